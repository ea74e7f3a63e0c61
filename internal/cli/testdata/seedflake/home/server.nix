# The server profile's skeleton (user myuser, nothing imported yet).
{ ... }:
{
  home.username = "myuser";
  home.homeDirectory = "/home/myuser";
}
