"""Companies learned from providers: company_master, and their names cached as mappings."""
