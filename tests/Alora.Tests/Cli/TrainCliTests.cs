using System.Text.Json.Nodes;
using Alora.IO;

namespace Alora.Tests.Cli;

public class TrainCliTests
{
    static readonly string Ptb = Path.Combine(Fixtures.Root, "text", "ptb", "ptb.valid.txt");

    static string[] Args(string outDir, params string[] extra) =>
        [
            "train",
            "--model",
            Fixtures.Model("tiny-random-llama"),
            "--data",
            Ptb,
            "--out",
            outDir,
            "--max-steps",
            "12",
            "--batch-size",
            "4",
            "--micro-batch-size",
            "4",
            "--max-length",
            "32",
            "--lr",
            "0.05",
            "--dropout",
            "0",
            .. extra,
        ];

    [FixtureFact]
    public void TrainingTheTinyLlamaLowersTheLossAndWritesTheRunFolder()
    {
        using var tmp = new TempDir();
        var run = tmp.File("run");
        // the same four sentences every step, so the loss can only go down if training works
        var data = tmp.File("four.txt");
        File.WriteAllLines(data, File.ReadLines(Ptb).Take(4));
        var (code, _, err) = CliRunner.Run(
            Args(run, "--target-modules", "q_proj,v_proj,o_proj,up_proj,down_proj,gate_proj") is var a ? [.. a.Select(x => x == Ptb ? data : x)] : a
        );
        Assert.True(code == 0, err);
        foreach (var f in new[] { "config.json", "metrics.jsonl", "adapter_config.json", "adapter_model.safetensors", "summary.json" })
            Assert.True(File.Exists(Path.Combine(run, f)), f);
        var losses = File.ReadAllLines(Path.Combine(run, "metrics.jsonl")).Select(l => JsonNode.Parse(l)!["task_loss"]!.GetValue<double>()).ToList();
        Assert.Equal(12, losses.Count);
        Assert.True(losses.TakeLast(3).Average() < losses.Take(3).Average() - 0.02, $"loss {losses[0]:F4} -> {losses[^1]:F4}");
        var metric = JsonNode.Parse(File.ReadLines(Path.Combine(run, "metrics.jsonl")).First())!.AsObject();
        foreach (var k in new[] { "step", "epoch", "loss", "task_loss", "lr", "tokens_per_second", "elapsed_seconds" })
            Assert.True(metric.ContainsKey(k), k);

        // the adapter applies at evaluation time and its merge gives the same outputs
        var (c2, out2, e2) = CliRunner.Run(
            "generate",
            "--model",
            Fixtures.Model("tiny-random-llama"),
            "--adapter",
            run,
            "--prompt-ids",
            "1,2,3",
            "--max-new-tokens",
            "4"
        );
        Assert.True(c2 == 0, e2);
        var merged = tmp.File("merged");
        var (c3, _, e3) = CliRunner.Run("merge", "--model", Fixtures.Model("tiny-random-llama"), "--adapter", run, "--out", merged);
        Assert.True(c3 == 0, e3);
        Assert.DoesNotContain(SafeTensorsFile.Open(Path.Combine(merged, "model.safetensors")).Entries.Keys, k =>
            k.Contains("lora", StringComparison.Ordinal)
        );
        var (c4, out4, e4) = CliRunner.Run("generate", "--model", merged, "--prompt-ids", "1,2,3", "--max-new-tokens", "4");
        Assert.True(c4 == 0, e4);
        Assert.Equal(out2.Split('\n')[1], out4.Split('\n')[1]); // same new ids
    }

    [FixtureFact]
    public void YamlConfigKeysMatchOptionsAndTheCommandLineOverrides()
    {
        using var tmp = new TempDir();
        var yaml = tmp.File("train.yaml");
        File.WriteAllText(
            yaml,
            $"model: {Fixtures.Model("tiny-random-llama")}\ndata: {Ptb}\nrank: 2\nmax_steps: 2\nbatch-size: 2\nmicro-batch-size: 2\nmax-length: 16\ntarget-modules: [q_proj]\n"
        );
        var run = tmp.File("run");
        var (code, _, err) = CliRunner.Run("train", "--config", yaml, "--out", run, "--rank", "3");
        Assert.True(code == 0, err);
        var cfg = JsonNode.Parse(File.ReadAllText(Path.Combine(run, "adapter_config.json")))!;
        Assert.Equal(3, cfg["r"]!.GetValue<int>());
        Assert.Equal(new[] { "q_proj" }, cfg["target_modules"]!.AsArray().Select(x => x!.GetValue<string>()));
        Assert.Equal(2, File.ReadAllLines(Path.Combine(run, "metrics.jsonl")).Length);

        File.WriteAllText(yaml, "rnak: 4\n");
        var (c2, _, e2) = CliRunner.Run("train", "--config", yaml, "--out", tmp.File("run2"));
        Assert.Equal(1, c2);
        Assert.Contains("unknown key 'rnak'", e2);
    }

    [FixtureTheory]
    [InlineData("empty", "empty")]
    [InlineData("small", "fewer than one batch")]
    [InlineData("target", "qkv_proj")]
    [InlineData("rank", "--rank 64")]
    public void BadRunsFailBeforeTraining(string what, string message)
    {
        using var tmp = new TempDir();
        var data = Ptb;
        string[] extra = [];
        switch (what)
        {
            case "empty":
                data = tmp.File("empty.txt");
                File.WriteAllText(data, "\n\n");
                break;
            case "small":
                data = tmp.File("small.txt");
                File.WriteAllText(data, "one short line\n");
                break;
            case "target":
                extra = ["--target-modules", "qkv_proj"];
                break;
            case "rank":
                extra = ["--rank", "64"];
                break; // q_proj of the tiny llama is 16 x 16
        }
        var run = tmp.File("run");
        var (code, _, err) = CliRunner.Run([
            "train",
            "--model",
            Fixtures.Model("tiny-random-llama"),
            "--data",
            data,
            "--out",
            run,
            "--max-steps",
            "2",
            "--batch-size",
            "4",
            "--max-length",
            "32",
            .. extra,
        ]);
        Assert.Equal(1, code);
        Assert.Contains(message, err);
        Assert.False(File.Exists(Path.Combine(run, "metrics.jsonl")));
    }
}
