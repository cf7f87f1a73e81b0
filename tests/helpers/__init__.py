"""What tests share beyond fixtures: waiting on conditions (`waiting`), the `qtqueue` command in
a subprocess (`cli`), tasks written straight into a store (`store_rows`), handlers and clocks
the test controls (`gate`, `virtual_time`), processes and logs (`processes`), and a real Secret
Service (`keyring_service`). Imported as `helpers.<module>` (tests/ is on sys.path)."""
