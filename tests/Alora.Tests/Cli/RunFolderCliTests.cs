using System.Text.Json.Nodes;
using Alora.Recipes;

namespace Alora.Tests.Cli;

/// <summary>
/// Run folders tell the truth: a resumed run has the options it was started with, a fresh run never mixes with what an
/// earlier attempt left, and options an --init-adapter fixes are refused rather than dropped.
/// </summary>
[Collection(TorchRngCollection.Name)]
public sealed class RunFolderCliTests : IDisposable
{
    readonly TempDir _tmp = new();
    readonly string _model,
        _data;

    public RunFolderCliTests()
    {
        _model = TinyModels.SaveLlama(_tmp.File("model"));
        _data = TinyModels.WriteIdsJsonl(_tmp.File("data.jsonl"), 16, 32);
    }

    public void Dispose() => _tmp.Dispose();

    string[] Train(string run, params string[] extra) =>
        [
            "train",
            "--model",
            _model,
            "--data",
            _data,
            "--out",
            run,
            "--max-steps",
            "8",
            "--batch-size",
            "4",
            "--micro-batch-size",
            "2",
            "--max-length",
            "32",
            "--lr",
            "0.01",
            "--rank",
            "4",
            "--checkpoint-every",
            "2",
            .. extra,
        ];

    static FinetuneOptions Options(string[] args)
    {
        // the same run through the library, so a test can stop it after a given step as a kill would
        string Get(string k) => args[Array.IndexOf(args, k) + 1];
        return new FinetuneOptions
        {
            Model = Get("--model"),
            Data = Get("--data"),
            Out = Get("--out"),
            MaxSteps = 8,
            BatchSize = 4,
            MicroBatchSize = 2,
            MaxLength = 32,
            Lr = 0.01,
            Rank = 4,
            CheckpointEvery = 2,
        };
    }

    /// <summary>The arguments with one option's value replaced.</summary>
    static string[] With(string[] args, string option, string value)
    {
        var copy = (string[])args.Clone();
        copy[Array.IndexOf(copy, option) + 1] = value;
        return copy;
    }

    static List<long> Steps(string run) =>
        File.ReadAllLines(Path.Combine(run, "metrics.jsonl")).Select(l => JsonNode.Parse(l)!["step"]!.GetValue<long>()).ToList();

    [Fact]
    public void ResumeWithOnlyOutContinuesTheRunAsStartedAndEndsAsAnUninterruptedRun()
    {
        var whole = _tmp.File("whole");
        Assert.Equal(0, CliRunner.Run(Train(whole)).Code);
        var parted = _tmp.File("parted");
        FinetuneRecipe.Run(Options(Train(parted)), stopAfter: 5); // checkpoint at step 4, step 5 in metrics only
        var (code, _, err) = CliRunner.Run("train", "--out", parted, "--resume", "--checkpoint-every", "3");
        Assert.True(code == 0, err);
        Assert.Equal(Enumerable.Range(1, 8).Select(i => (long)i), Steps(parted));
        Assert.Equal(
            File.ReadAllBytes(Path.Combine(whole, "adapter_model.safetensors")),
            File.ReadAllBytes(Path.Combine(parted, "adapter_model.safetensors"))
        );
    }

    [Fact]
    public void ResumeWithAChangedOptionIsRefusedNamingIt()
    {
        var run = _tmp.File("run");
        FinetuneRecipe.Run(Options(Train(run)), stopAfter: 5);
        var (code, _, err) = CliRunner.Run(With(Train(run, "--resume"), "--lr", "0.02"));
        Assert.Equal(1, code);
        Assert.Contains("config.json", err);
        Assert.Contains("--lr 0.02 (the run has 0.01)", err);
        Assert.Equal([1, 2, 3, 4, 5], Steps(run)); // nothing ran
    }

    [Fact]
    public void AFolderLeftBeforeTheFirstCheckpointIsRefusedAndResumeStartsItCleanly()
    {
        var run = _tmp.File("run");
        FinetuneRecipe.Run(Options(Train(run)), stopAfter: 1); // a crash after step 1, before the checkpoint of step 2
        Assert.Null(Alora.Training.Trainer.LatestCheckpoint(run));
        var (code, _, err) = CliRunner.Run(Train(run));
        Assert.Equal(1, code);
        Assert.Contains("stopped before its first checkpoint", err);
        var (code2, _, err2) = CliRunner.Run(Train(run, "--resume"));
        Assert.True(code2 == 0, err2);
        Assert.Equal(Enumerable.Range(1, 8).Select(i => (long)i), Steps(run)); // step 1 once, not twice
    }

    [Fact]
    public void InitAdapterFixesTheShape_AStatedRankThatDiffersIsRefused_AnUnstatedOneComesFromTheAdapter()
    {
        var first = _tmp.File("first");
        Assert.Equal(0, CliRunner.Run(Train(first, "--alpha", "8")).Code);
        var (code, _, err) = CliRunner.Run(With(Train(_tmp.File("bad"), "--init-adapter", first), "--rank", "16"));
        Assert.Equal(1, code);
        Assert.Contains("--rank 16 (the adapter has 4)", err);

        var args = Train(_tmp.File("good"), "--init-adapter", first).ToList();
        args.RemoveRange(args.IndexOf("--rank"), 2);
        var (code2, _, err2) = CliRunner.Run([.. args]);
        Assert.True(code2 == 0, err2);
        var config = JsonNode.Parse(File.ReadAllText(_tmp.File("good/config.json")))!;
        Assert.Equal(4, config["rank"]!.GetValue<int>());
        Assert.Equal(8, config["alpha"]!.GetValue<double>());
        Assert.Equal(Path.GetFullPath(first), config["init-adapter"]!.GetValue<string>()); // paths are recorded absolute
    }
}
