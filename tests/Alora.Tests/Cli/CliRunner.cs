using Alora.Cli;

namespace Alora.Tests.Cli;

/// <summary>Runs the CLI in-process and captures what it prints.</summary>
public static class CliRunner
{
    public static (int Code, string Out, string Err) Run(params string[] args)
    {
        using var o = new StringWriter();
        using var e = new StringWriter();
        int code = AloraCli.Run(args, o, e);
        return (code, o.ToString(), e.ToString());
    }
}
