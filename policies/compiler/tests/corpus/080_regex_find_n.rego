# regex.find_n and regex.find_all_string_submatch_n: extract ticket references.
# entrypoints: refs, first_two, groups
# input: {"text": ["see TCK-12 and TCK-345", "TCK-1", "nothing here", "TCK-9 TCK-8 TCK-7"]}
package corpus.p080

refs := regex.find_n(`TCK-[0-9]+`, input.text, -1)

first_two := regex.find_n(`TCK-[0-9]+`, input.text, 2)

groups := regex.find_all_string_submatch_n(`TCK-([0-9])([0-9]*)`, input.text, -1)
