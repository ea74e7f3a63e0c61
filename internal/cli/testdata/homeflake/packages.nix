{
  zsh = { version = "5.9"; size = 100; };
  atuin = { version = "18.3.0"; size = 300; };
}
