using System.Text.Json.Nodes;
using Alora.IO;

namespace Alora.Tests.Cli;

/// <summary>`alora train --method replay`: a fresh adapter on batches mixing --general-data into the domain data.</summary>
[Collection(TorchRngCollection.Name)]
public sealed class ReplayCliTests
{
    static string[] Args(TempDir tmp, params string[] extra)
    {
        var model = File.Exists(tmp.File("model/config.json")) ? tmp.File("model") : TinyModels.SaveLlama(tmp.File("model"));
        var data = TinyModels.WriteIdsJsonl(tmp.File("domain.jsonl"), 8, 16);
        return ["train", "--model", model, "--data", data, "--batch-size", "4", "--micro-batch-size", "2", "--max-length", "16", .. extra];
    }

    [Fact]
    public void ReplayTrainsAndWritesTheAdapter_RecordingRhoAndK()
    {
        using var tmp = new TempDir();
        var general = TinyModels.WriteIdsJsonl(tmp.File("general.jsonl"), 6, 16, seed: 9);
        var run = tmp.File("run");
        var (code, _, err) = CliRunner.Run(
            Args(tmp, "--out", run, "--method", "replay", "--general-data", general, "--replay-fraction", "0.5", "--max-steps", "3")
        );
        Assert.True(code == 0, err);
        Assert.DoesNotContain("warning", err, StringComparison.Ordinal);
        foreach (var f in new[] { "config.json", "metrics.jsonl", "adapter_config.json", "adapter_model.safetensors", "summary.json" })
            Assert.True(File.Exists(Path.Combine(run, f)), f);
        var config = JsonFile.Read(Path.Combine(run, "config.json"));
        Assert.Equal(0.5, config["replay-fraction"]!.GetValue<double>());
        Assert.Equal(2, config["resolved"]!["replay_per_step"]!.GetValue<int>());
        Assert.Equal(2, config["resolved"]!["domain_per_step"]!.GetValue<int>());
        Assert.Equal(6, config["resolved"]!["general_sequences"]!.GetValue<int>());
        Assert.Equal(4, config["resolved"]!["steps_per_epoch"]!.GetValue<int>()); // 8 domain sequences, 2 per step
        var summary = JsonFile.Read(Path.Combine(run, "summary.json"));
        Assert.Equal((0.5, 2), (summary["replay_fraction"]!.GetValue<double>(), summary["replay_per_step"]!.GetValue<int>()));
        // every step trained on 4 sequences of 16 tokens: 2 domain and 2 general
        Assert.All(File.ReadAllLines(Path.Combine(run, "metrics.jsonl")), l => Assert.Equal(64, JsonNode.Parse(l)!["tokens"]!.GetValue<long>()));
    }

    [Theory]
    [InlineData(new string[0], "--method replay needs --general-data")]
    [InlineData(new[] { "--replay-fraction", "1" }, "--replay-fraction must be in [0, 1) (got 1)")]
    [InlineData(new[] { "--replay-fraction", "-0.1" }, "--replay-fraction must be in [0, 1)")]
    [InlineData(new[] { "--replay-fraction", "NaN" }, "--replay-fraction must be a finite number")]
    [InlineData(new[] { "--replay-fraction", "0.9" }, "--replay-fraction 0.9 replays round(0.9 * 4) = 4 of the 4 sequences of --batch-size")]
    public void AMissingGeneralTextOrABadFractionIsAnErrorNamingTheOption(string[] extra, string message)
    {
        using var tmp = new TempDir();
        var general = TinyModels.WriteIdsJsonl(tmp.File("general.jsonl"), 6, 16, seed: 9);
        string[] given = extra.Length == 0 ? [] : ["--general-data", general, .. extra];
        var run = tmp.File("run");
        var (code, _, err) = CliRunner.Run(Args(tmp, ["--out", run, "--method", "replay", "--max-steps", "3", .. given]));
        Assert.Equal(1, code);
        Assert.Contains(message, err, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", err, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(run, "config.json")));
    }

    [Fact]
    public void GeneralDataIsNotWarnedAboutForStageBoth_ReplayFractionIsForAnotherMethod()
    {
        using var tmp = new TempDir();
        var general = TinyModels.WriteIdsJsonl(tmp.File("general.jsonl"), 6, 16, seed: 9);
        var (code, _, err) = CliRunner.Run(
            Args(tmp, "--out", tmp.File("both"), "--method", "lora", "--stage", "both", "--general-data", general, "--max-steps", "1")
        );
        Assert.True(code == 0, err);
        Assert.DoesNotContain("warning", err, StringComparison.Ordinal);
        var (code2, _, err2) = CliRunner.Run(Args(tmp, "--out", tmp.File("lora"), "--replay-fraction", "0.5", "--max-steps", "1"));
        Assert.True(code2 == 0, err2);
        Assert.Contains("warning: --replay-fraction is read by --method replay; --method lora ignores it", err2, StringComparison.Ordinal);
    }
}
