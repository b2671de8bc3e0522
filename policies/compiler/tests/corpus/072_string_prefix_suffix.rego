# startswith / endswith / contains: classify resource names.
# entrypoints: kind, internal, is_test, has_year
# input: {"name": ["cust:42", "deal:7", "inv:2024-001", "tmp_cust:1", "cust:1_test", "", "x"]}
package corpus.p072

kind := "customer" if startswith(input.name, "cust:")
else := "deal" if startswith(input.name, "deal:")
else := "invoice" if startswith(input.name, "inv:")
else := "unknown"

internal if startswith(input.name, "tmp_")

is_test := endswith(input.name, "_test")

has_year := contains(input.name, "2024")
