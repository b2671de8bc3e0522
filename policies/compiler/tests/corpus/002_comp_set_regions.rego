# Set comprehensions: distinct regions and tenants seen in a batch.
# entrypoints: regions, tenants, multi_region
# input: {"records": {"$array": {"tenant": ["t1", "t2", "t3"], "region?": ["eu", "us", "apac", null]}, "len": "0..6"}}
package corpus.p002

regions := {r.region | some r in input.records; is_string(r.region)}

tenants := {r.tenant | some r in input.records}

multi_region if count(regions) > 1
