# The common server module, still empty.
{ ... }: { }
