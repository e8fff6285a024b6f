using System.Text.Json.Nodes;

namespace Alora.Tests.Cli;

public class PretrainCliTests
{
    [FixtureFact]
    public void PretrainingLowersTheLossAndWritesALoadableModelFolder()
    {
        using var tmp = new TempDir();
        var data = tmp.File("text.txt");
        File.WriteAllLines(data, File.ReadLines(Path.Combine(Fixtures.Root, "text", "ptb", "ptb.valid.txt")).Take(40));
        var model = tmp.File("model");
        var (code, output, err) = CliRunner.Run(
            "pretrain",
            "--tokenizer",
            Fixtures.Model("tiny-gpt2"),
            "--data",
            data,
            "--out",
            model,
            "--hidden",
            "16",
            "--layers",
            "1",
            "--heads",
            "2",
            "--kv-heads",
            "1",
            "--intermediate",
            "32",
            "--max-length",
            "32",
            "--max-steps",
            "30",
            "--batch-size",
            "4",
            "--lr",
            "0.01"
        );
        Assert.True(code == 0, err);
        var losses = File.ReadAllLines(Path.Combine(model, "pretrain-run", "metrics.jsonl"))
            .Select(l => JsonNode.Parse(l)!["task_loss"]!.GetValue<double>())
            .ToList();
        Assert.True(losses.TakeLast(5).Average() < losses.Take(5).Average() - 0.5, $"{losses[0]:F3} -> {losses[^1]:F3}");
        var cfg = JsonNode.Parse(File.ReadAllText(Path.Combine(model, "config.json")))!;
        Assert.Equal(50257, cfg["vocab_size"]!.GetValue<int>());
        Assert.Equal(1, cfg["num_key_value_heads"]!.GetValue<int>());
        Assert.True(cfg["tie_word_embeddings"]!.GetValue<bool>());
        Assert.True(File.Exists(Path.Combine(model, "tokenizer.json")));
        var (c2, o2, e2) = CliRunner.Run("eval", "perplexity", "--model", model, "--data", data, "--limit", "5");
        Assert.True(c2 == 0, e2);
        Assert.True(JsonNode.Parse(o2)!["perplexity"]!.GetValue<double>() < 50257);
    }
}
