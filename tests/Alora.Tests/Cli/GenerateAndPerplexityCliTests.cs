using System.Text.Json.Nodes;

namespace Alora.Tests.Cli;

public class GenerateAndPerplexityCliTests
{
    [FixtureFact]
    public void GeneratePrintsThePublishedGreedyIds()
    {
        var (code, output, err) = CliRunner.Run(
            "generate",
            "--model",
            Fixtures.Model("tiny-random-llama"),
            "--prompt-ids",
            "1,2,3",
            "--max-new-tokens",
            "8"
        );
        Assert.True(code == 0, err);
        Assert.Contains("new_ids: 18568,1727,8705,3598,27426,4496,998,16911", output);
    }

    [FixtureFact]
    public void GenerateFromTextDecodesTheNewTokens()
    {
        var (code, output, err) = CliRunner.Run(
            "generate",
            "--model",
            Fixtures.Model("tiny-gpt2"),
            "--prompt",
            "Hello world",
            "--max-new-tokens",
            "3"
        );
        Assert.True(code == 0, err);
        Assert.Contains("prompt_ids: 15496,995", output);
        Assert.Contains("text: ", output);
    }

    // The reference's mean NLL per sequence, reported by `eval perplexity` on a JSONL of its input_ids.
    [FixtureTheory]
    [InlineData("tiny-random-llama3")]
    [InlineData("tiny-random-llama3-bf16-sharded")]
    [InlineData("tiny-random-gptj")]
    public void PerplexityOnInputIdsReportsTheReferenceNll(string name)
    {
        var dir = Fixtures.Model(name);
        var reference = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "reference.json")))!;
        using var tmp = new TempDir();
        var data = tmp.File("ids.jsonl");
        File.WriteAllLines(data, reference["input_ids"]!.AsArray().Select(ids => new JsonObject { ["input_ids"] = ids!.DeepClone() }.ToJsonString()));
        var outFile = tmp.File("ppl.json");
        var (code, _, err) = CliRunner.Run("eval", "perplexity", "--model", dir, "--data", data, "--out", outFile);
        Assert.True(code == 0, err);
        var result = JsonNode.Parse(File.ReadAllText(outFile))!;
        var expected = reference["mean_nll"]!.AsArray().Select(x => x!.GetValue<double>()).ToArray();
        var perDoc = result["per_document"]!.AsArray();
        Assert.Equal(expected.Length, perDoc.Count);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(perDoc[i]!["mean_nll"]!.GetValue<double>() - expected[i]) <= 1e-5, $"doc {i}");
        Assert.Equal(expected.Length, result["documents"]!.GetValue<int>());
        var predicted = reference["input_ids"]!.AsArray().Select(ids => ids!.AsArray().Count - 1).ToArray();
        Assert.Equal(predicted.Sum(), result["tokens"]!.GetValue<int>());
        double corpusNll = expected.Zip(predicted, (m, n) => m * n).Sum() / predicted.Sum();
        Assert.True(Math.Abs(Math.Log(result["perplexity"]!.GetValue<double>()) - corpusNll) <= 1e-5);
    }

    [FixtureFact]
    public void PerplexityOnTextReportsWordAndByteMetrics()
    {
        using var tmp = new TempDir();
        var data = tmp.File("docs.txt");
        File.WriteAllText(data, "Hello world, this is a test.\nAnother line of text here.\n");
        var (code, output, err) = CliRunner.Run("eval", "perplexity", "--model", Fixtures.Model("tiny-gpt2"), "--data", data);
        Assert.True(code == 0, err);
        var r = JsonNode.Parse(output)!;
        Assert.Equal(2, r["documents"]!.GetValue<int>());
        Assert.Equal(11, r["words"]!.GetValue<int>());
        Assert.Equal(54, r["bytes"]!.GetValue<int>());
        double nll = r["nll_sum"]!.GetValue<double>();
        Assert.Equal(Math.Exp(nll / 11), r["word_perplexity"]!.GetValue<double>(), 6);
        Assert.Equal(nll / 54 / Math.Log(2), r["bits_per_byte"]!.GetValue<double>(), 9);
        Assert.Equal(Math.Exp(nll / r["tokens"]!.GetValue<int>()), r["perplexity"]!.GetValue<double>(), 6);
    }
}
