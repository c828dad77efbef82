"""What providers teach wdh about companies: company_master and cached name mappings."""
