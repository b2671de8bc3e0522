# upper / lower and case-insensitive comparison.
# entrypoints: same_email, shout, domain_upper
# input: {"a": ["Ann@Example.com", "ann@example.com", "bob@x.io", "ÄRGER@x.de"], "b": ["ANN@EXAMPLE.COM", "bob@X.io", "ärger@x.de"]}
package corpus.p069

same_email if lower(input.a) == lower(input.b)

shout := upper(input.a)

domain_upper := upper(split(input.a, "@")[1])
