package inventory

// The checks Parse applies, for code that writes an inventory entry (nixctl
// host add, init) and must refuse what Parse would refuse. Each returns ""
// when s is valid, else a message naming the value and the rule.

// CheckName validates a host or profile name.
func CheckName(s string) string { return validName(s) }

// CheckAddress validates an IP address or DNS name.
func CheckAddress(s string) string { return validAddress(s) }

// CheckUser validates a login user name.
func CheckUser(s string) string { return validUser(s) }

// CheckTag validates a tag.
func CheckTag(s string) string { return validTag(s) }
