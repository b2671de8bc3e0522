# with on a function: mock a helper.
# entrypoints: real, mocked, mocked_builtin
# input: {"name": ["ann", "Bob", "CID"]}
package corpus.p061

shout(s) := upper(s)

greeting := sprintf("HELLO %s", [shout(input.name)])

fake(s) := "x"

real := greeting

mocked := g if {
	g := greeting with shout as fake
}

mocked_builtin := g if {
	g := greeting with upper as fake
}
