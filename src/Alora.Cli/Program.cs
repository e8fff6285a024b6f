namespace Alora.Cli;

public static class Program
{
    public static int Main(string[] args) => AloraCli.Run(args, Console.Out, Console.Error);
}
