using System.CommandLine;
using System.CommandLine.Invocation;
using System.CommandLine.Parsing;
using Alora.Cli.Commands;

namespace Alora.Cli;

/// <summary>The command tree. Thin: every command parses options and calls the library.</summary>
public static class AloraCli
{
    public static RootCommand Build(TextWriter stdout, TextWriter stderr)
    {
        var io = new CliIo(stdout, stderr);
        var root = new RootCommand(
            "Alora: domain fine-tuning of causal language models that keeps their general ability (ALoRA, LoRA, rsLoRA, EWC-LoRA)."
        );
        var eval = new Command("eval", "Evaluate a model: general perplexity, multiple-choice accuracy, or both in one suite.");
        eval.Add(EvalPerplexityCommand.Create(io));
        eval.Add(EvalMcqCommand.Create(io));
        eval.Add(EvalSuiteCommand.Create(io));
        root.Add(eval);
        root.Add(GenerateCommand.Create(io));
        root.Add(TrainCommand.Create(io));
        root.Add(MergeCommand.Create(io));
        root.Add(ImportanceCommand.Create(io));
        root.Add(PretrainCommand.Create(io));
        root.Add(DataCommand.Create(io));
        root.Add(ExperimentCommand.Create(io));
        root.Add(DemoCommand.Create(io));
        root.Add(FisherCommand.Create(io));
        root.Add(BenchCommand.Create(io));
        OptionChecks.AddFiniteChecks(root);
        return root;
    }

    /// <summary>Runs the CLI; a user error prints one line "error: ..." on stderr and returns 1.</summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var root = Build(stdout, stderr);
        var parse = root.Parse(args);
        if (parse.Action is ParseErrorAction)
        {
            // one "error:" line per problem, as for errors found later; the usage is one --help away
            foreach (var e in parse.Errors)
                stderr.WriteLine("error: " + e.Message);
            stderr.WriteLine($"(see '{CommandLine(parse.CommandResult)} --help')");
            return 1;
        }
        try
        {
            return parse.Invoke(
                new InvocationConfiguration
                {
                    Output = stdout,
                    Error = stderr,
                    EnableDefaultExceptionHandler = false,
                }
            );
        }
        catch (AloraException e)
        {
            stderr.WriteLine("error: " + e.Message);
            return 1;
        }
        catch (IOException e)
        {
            stderr.WriteLine("error: " + e.Message);
            return 1;
        }
        catch (UnauthorizedAccessException e)
        {
            stderr.WriteLine("error: " + e.Message);
            return 1;
        }
    }

    /// <summary>"alora eval mcq" for the result of eval's mcq (the root's own name is the program's file name).</summary>
    static string CommandLine(CommandResult r)
    {
        var names = new List<string>();
        for (SymbolResult? s = r; s is CommandResult { Parent: not null } c; s = c.Parent)
            names.Insert(0, c.Command.Name);
        return string.Join(" ", names.Prepend("alora"));
    }
}

/// <summary>Where a command writes, so tests can run the CLI in-process.</summary>
public sealed record CliIo(TextWriter Out, TextWriter Err)
{
    /// <summary>Progress bars only when stderr is a terminal and the CLI writes to the real console.</summary>
    public bool Interactive => ReferenceEquals(Err, Console.Error) && !Console.IsErrorRedirected && Environment.GetEnvironmentVariable("CI") is null;
}
