# default on a function (v1) and a function with no match.
# entrypoints: labels, direct
# input: {"codes": {"$array": ["200", "404", "500", "302", "999"], "len": "0..4"}, "code": ["200", "404", "418"]}
package corpus.p053

default describe(_) := "other"

describe("200") := "ok"

describe("404") := "not found"

describe("500") := "server error"

labels := [describe(c) | some c in input.codes]

direct := describe(input.code)
