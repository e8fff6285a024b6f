using Alora.Experiments;

namespace Alora.Tests.Experiments;

/// <summary>An experiment YAML with NaN or an infinity where a number goes is refused at load, naming the file and the key.</summary>
[Collection(TorchRngCollection.Name)]
public class ExperimentConfigFiniteTests
{
    static string Write(TempDir tmp, string body)
    {
        var path = tmp.File("experiment.yaml");
        File.WriteAllText(path, "model: m\nmethods: [alora]\ngeneral: {train: g.txt, heldout: h.txt}\n" + body);
        return path;
    }

    [Theory]
    [InlineData("train:\n  phi: NaN\n", "train.phi")]
    [InlineData("train:\n  phi: .nan\n", "train.phi")]
    [InlineData("train:\n  lr: .inf\n", "train.lr")]
    [InlineData("train:\n  lr: 1e400\n", "train.lr")]
    [InlineData("domain-stage:\n  ewc-lambda: -.inf\n", "domain-stage.ewc-lambda")]
    [InlineData("overrides:\n  alora:\n    phi: Infinity\n", "overrides.alora.phi")]
    [InlineData("sweeps:\n  phi: [1, .NaN]\n", "sweeps.phi[1]")]
    [InlineData("sweeps:\n  xi: [1e999]\n", "sweeps.xi[0]")]
    [InlineData("fisher:\n  samples: .nan\n", "fisher.samples")]
    [InlineData("eval:\n  batch-size: .inf\n", "eval.batch-size")]
    public void NonFiniteNumbersAreRefusedWithTheFileAndTheKey(string body, string key)
    {
        using var tmp = new TempDir();
        var path = Write(tmp, body);
        var e = Assert.Throws<AloraException>(() => ExperimentConfig.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains($"'{key}'", e.Message);
        Assert.Contains("finite", e.Message);
    }

    [Fact]
    public void TextKeysKeepNanAsAName()
    {
        // "nan" as a task name is text, not a number: the load goes on to the next problem (the missing model folder)
        using var tmp = new TempDir();
        var path = Write(tmp, "domain:\n  - {name: nan, task: mcq, train: a.jsonl, test: b.jsonl}\n");
        var e = Assert.Throws<AloraException>(() => ExperimentConfig.Load(path));
        Assert.DoesNotContain("finite", e.Message);
        Assert.Contains("model folder", e.Message);
    }

    [Theory]
    [InlineData("max-length: 0", "eval.max-length must be at least 1")]
    [InlineData("stride: 0", "eval.stride must be at least 1")]
    [InlineData("{max-length: 16, stride: 32}", "eval.stride 32 must not exceed eval.max-length 16")]
    public void AnEvaluationWindowThatCannotWorkIsRefusedBeforeTraining(string eval, string message)
    {
        // without this the error came from the first evaluation, after the runs had trained
        using var tmp = new TempDir();
        var model = Alora.Tests.Cli.TinyFolders.Model(tmp.File("model"));
        foreach (var f in new[] { "h.txt", "test.jsonl" })
            File.WriteAllText(tmp.File(f), "");
        var path = tmp.File("experiment.yaml");
        File.WriteAllText(
            path,
            $"model: {model}\nmethods: [base]\ngeneral: {{heldout: h.txt}}\n"
                + "domain:\n  - {name: quiz, task: mcq, train: test.jsonl, test: test.jsonl}\n"
                + (eval.StartsWith('{') ? $"eval: {eval}\n" : $"eval:\n  {eval}\n")
        );
        var e = Assert.Throws<AloraException>(() => ExperimentConfig.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains(message, e.Message);
    }
}
