"""The provider ledger: every definitive provider answer, remembered per provider and name.

`answers` turns a provider's candidates into an `Answer` (pure); `repository`
reads and writes `enterprise.provider_answers`. See docs/lifecycle.md.
"""
