namespace Alora.Tests.Cli;

/// <summary>Named values are checked while the command line is parsed, and a stated option that the method does not read is named.</summary>
public sealed class TrainOptionCliTests
{
    [Theory]
    [InlineData("--method", "alora2", "--method 'alora2' is not one of lora, rslora, alora, alora-no-layer, ewc-lora, replay, ewc-nu")]
    [InlineData("--stage", "mu", "--stage 'mu' is not one of general, domain, both")]
    [InlineData("--layer-weights", "onehot", "--layer-weights 'onehot' is not one of softmax, softmax-normalized, softmax-log, uniform")]
    [InlineData("--dtype", "int8", "--dtype 'int8' is not one of float32, bfloat16, float16")]
    public void AnUnknownNameIsAnErrorBeforeAnyWork(string option, string value, string message)
    {
        using var tmp = new TempDir();
        var (code, _, err) = CliRunner.Run(
            "train",
            "--model",
            tmp.File("none"),
            "--data",
            tmp.File("none.txt"),
            "--out",
            tmp.File("run"),
            option,
            value
        );
        Assert.Equal(1, code);
        Assert.Contains(message, err, StringComparison.Ordinal);
        Assert.False(Directory.Exists(tmp.File("run")));
    }

    [Fact]
    public void TheHelpOfEveryTrainOptionSaysWhatItSets()
    {
        var (code, help, _) = CliRunner.Run("train", "--help");
        Assert.Equal(0, code);
        foreach (
            var line in help.Split('\n')
                .Where(l => l.TrimStart().StartsWith("--", StringComparison.Ordinal) && !l.Contains("--help", StringComparison.Ordinal))
        )
            Assert.True(line.Trim().Split("  ", StringSplitOptions.RemoveEmptyEntries).Length >= 2, $"no help: {line}");
        Assert.Contains("[ewc-nu]", help, StringComparison.Ordinal); // --fisher-samples names the one method that reads it
    }

    [Fact]
    public void AnOptionOnlyAnotherMethodReadsIsNamedInAWarning()
    {
        using var tmp = new TempDir();
        var model = TinyModels.SaveLlama(tmp.File("model"));
        var data = TinyModels.WriteIdsJsonl(tmp.File("d.jsonl"), 8, 16);
        var (code, _, err) = CliRunner.Run(
            "train",
            "--model",
            model,
            "--data",
            data,
            "--out",
            tmp.File("run"),
            "--max-steps",
            "1",
            "--batch-size",
            "2",
            "--micro-batch-size",
            "2",
            "--max-length",
            "16",
            "--phi",
            "5",
            "--layer-weights",
            "uniform"
        );
        Assert.True(code == 0, err);
        Assert.Contains("warning: --layer-weights is read by --method alora; --method lora ignores it", err, StringComparison.Ordinal);
        Assert.Contains("warning: --phi is read by --method alora-no-layer, alora; --method lora ignores it", err, StringComparison.Ordinal);
    }
}
