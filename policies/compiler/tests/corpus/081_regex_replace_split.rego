# regex.replace and regex.split: mask digits, split on separators.
# entrypoints: masked, tokens
# input: {"text": ["IBAN DE89 3704 0044 0532 0130 00", "card 4111-1111-1111-1111", "no digits", "a1b2;c3, d4"]}
package corpus.p081

masked := regex.replace(input.text, `[0-9]`, "#")

tokens := regex.split(`[ ;,-]+`, input.text)
