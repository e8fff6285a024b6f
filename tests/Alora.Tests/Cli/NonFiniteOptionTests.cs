using System.CommandLine;
using Alora.Cli;

namespace Alora.Tests.Cli;

/// <summary>NaN and infinities in options and in train's YAML are refused by name, never carried into a run or a JSON writer.</summary>
public class NonFiniteOptionTests
{
    static readonly Type[] FloatTypes = [typeof(double), typeof(double?), typeof(float), typeof(float?), typeof(double[]), typeof(float[])];

    /// <summary>Every floating-point option of the real command tree, with the words that lead to its command.</summary>
    static List<(string[] Path, Option Option)> FloatOptions()
    {
        var list = new List<(string[], Option)>();
        void Walk(Command c, string[] path)
        {
            foreach (var o in c.Options.Where(o => FloatTypes.Contains(o.ValueType)))
                list.Add((path, o));
            foreach (var s in c.Subcommands)
                Walk(s, [.. path, s.Name]);
        }
        Walk(AloraCli.Build(TextWriter.Null, TextWriter.Null), []);
        return list;
    }

    [Fact]
    public void TheWalkFindsTheFloatOptionsOfEveryCommandThatHasThem()
    {
        var found = FloatOptions().Select(x => string.Join(" ", [.. x.Path, x.Option.Name])).ToHashSet();
        foreach (
            var known in new[]
            {
                "train --lr",
                "train --alpha",
                "train --phi",
                "train --max-grad-norm",
                "train --xi",
                "train --ewc-lambda",
                "pretrain --lr",
                "bench importance --alpha",
            }
        )
            Assert.Contains(known, found);
    }

    [Theory]
    [InlineData("nan")]
    [InlineData("NaN")]
    [InlineData("inf")]
    [InlineData("Infinity")]
    [InlineData("-Infinity")]
    [InlineData("1e400")]
    public void EveryFloatOptionOfEveryCommandRefusesNonFiniteValues(string value)
    {
        foreach (var (path, option) in FloatOptions())
        {
            var r = CliRunner.Run([.. path, option.Name, value]);
            var label = $"{string.Join(" ", path)} {option.Name} {value}";
            Assert.True(r.Code == 1, $"{label}: exit {r.Code}\n{r.Err}");
            Assert.DoesNotContain("   at ", r.Err);
            // one of the error lines is about this option and this value (other lines may name missing required options)
            var line = r
                .Err.Split('\n')
                .FirstOrDefault(l =>
                    l.StartsWith("error: ", StringComparison.Ordinal) && l.Contains(option.Name + " ", StringComparison.Ordinal)
                    || l.StartsWith("error: ", StringComparison.Ordinal) && l.Contains($"'{option.Name}'", StringComparison.Ordinal)
                );
            Assert.True(line is not null, $"{label}: no error line names the option\n{r.Err}");
            Assert.True(
                line.Contains("finite", StringComparison.Ordinal) || line.Contains("Cannot parse", StringComparison.Ordinal),
                $"{label}: {line}"
            );
        }
    }

    [Theory]
    [InlineData("lr: NaN", "lr")]
    [InlineData("lr: .nan", "lr")]
    [InlineData("lr: .NaN", "lr")]
    [InlineData("lr: .inf", "lr")]
    [InlineData("lr: -.Inf", "lr")]
    [InlineData("lr: +.INF", "lr")]
    [InlineData("lr: 1e400", "lr")]
    [InlineData("alpha: Infinity", "alpha")]
    [InlineData("phi: .nan", "phi")]
    [InlineData("max_grad_norm: -1e999", "max-grad-norm")]
    public void TrainYamlWithANonFiniteNumberNamesTheFileAndTheKey(string line, string key)
    {
        using var tmp = new TempDir();
        var yaml = tmp.File("run.yaml");
        File.WriteAllText(yaml, $"max-steps: 3\n{line}\n");
        CliAssert.ClearError(CliRunner.Run("train", "--config", yaml), yaml, $"'{key}'", "finite");
    }

    [Fact]
    public void TrainYamlKeepsTextForTextOptions()
    {
        // "nan" is a fine name for a data file: a text option keeps it as text, so the error is about the file, not the number
        using var tmp = new TempDir();
        var yaml = tmp.File("run.yaml");
        File.WriteAllText(yaml, $"model: {tmp.File("nan")}\ndata: nan\nout: {tmp.File("run")}\n");
        var r = CliRunner.Run("train", "--config", yaml);
        CliAssert.ClearError(r);
        Assert.DoesNotContain("finite", r.Err);
    }
}
