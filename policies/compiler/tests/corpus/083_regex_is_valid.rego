# regex.is_valid on user-supplied patterns; matching only valid ones.
# entrypoints: valid, hits
# input: {"pattern": ["^a.*", "[unclosed", "(a|b)+", "\\d{2,3}", "*bad"], "values": {"$array": ["abc", "12", "bab", "999"], "len": "0..3"}}
package corpus.p083

valid := regex.is_valid(input.pattern)

hits := [v | some v in input.values; regex.match(input.pattern, v)] if valid
