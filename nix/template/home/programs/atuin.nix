# Shell history, searchable and shared between machines (atuin).
{ ... }:
{
  programs.atuin = {
    enable = true;
    enableZshIntegration = true;
    settings.auto_sync = false;
  };
}
