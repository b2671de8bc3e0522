# regex.match: validate emails and phone numbers.
# entrypoints: email_ok, phone_ok, valid
# input: {"email": ["ann@example.com", "bad@", "x@y.z", "A.B+c@sub.example.io", ""], "phone": ["+49 170 1234567", "555-0100", "12ab", "+1 (800) 555-0199"]}
package corpus.p079

email_ok := regex.match(`^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$`, input.email)

phone_ok := regex.match(`^\+?[0-9 ()-]{6,}$`, input.phone)

valid if {
	email_ok
	phone_ok
}
