using System.Text.Json.Nodes;
using Alora.IO;

namespace Alora.Tests.Cli;

public class DemoDataCliTests
{
    [Fact]
    public void DataGenerateWritesEverySplitAndPretrainUntiedWritesASeparateLmHead()
    {
        using var tmp = new TempDir();
        var data = tmp.File("data");
        var (code, output, err) = CliRunner.Run("data", "generate", "--out", data, "--size", "quick", "--seed", "7");
        Assert.True(code == 0, err);
        foreach (
            var rel in new[]
            {
                "general/pretrain.txt",
                "general/nu.txt",
                "general/heldout.txt",
                "general/facts-test.jsonl",
                "domain/train.jsonl",
                "domain/validation.jsonl",
                "domain/test.jsonl",
                "tokenizer.json",
            }
        )
        {
            Assert.True(File.Exists(Path.Combine(data, rel)), rel);
            Assert.Contains(rel, output, StringComparison.Ordinal);
        }
        Assert.Equal(64, File.ReadAllLines(Path.Combine(data, "domain", "validation.jsonl")).Length);

        var model = tmp.File("model");
        (code, _, err) = CliRunner.Run(
            "pretrain",
            "--tokenizer",
            data,
            "--data",
            Path.Combine(data, "general", "pretrain.txt"),
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
            "2",
            "--batch-size",
            "4",
            "--untie-embeddings"
        );
        Assert.True(code == 0, err);
        var cfg = JsonNode.Parse(File.ReadAllText(Path.Combine(model, "config.json")))!;
        Assert.False(cfg["tie_word_embeddings"]!.GetValue<bool>());
        var entries = SafeTensorsFile.Open(Path.Combine(model, "model.safetensors")).Entries;
        Assert.Equal(entries["model.embed_tokens.weight"].Shape, entries["lm_head.weight"].Shape);
        (code, _, err) = CliRunner.Run(
            "eval",
            "perplexity",
            "--model",
            model,
            "--data",
            Path.Combine(data, "general", "heldout.txt"),
            "--limit",
            "3"
        );
        Assert.True(code == 0, err);

        (code, _, err) = CliRunner.Run("data", "generate", "--out", tmp.File("bad"), "--size", "huge");
        Assert.NotEqual(0, code);
        Assert.Contains("huge", err, StringComparison.Ordinal);
    }
}
