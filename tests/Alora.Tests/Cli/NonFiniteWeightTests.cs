using System.Text.Json.Nodes;
using Alora.Eval;

namespace Alora.Tests.Cli;

/// <summary>
/// A model or adapter whose weights hold NaN or infinities is refused where it is loaded, naming the file and
/// the tensor, by every command that loads one; and the JSON writers turn a stray non-finite number into null.
/// </summary>
[Collection(TorchRngCollection.Name)]
public class NonFiniteWeightTests
{
    static readonly string AdapterTensor = $"base_model.model.{TinyFolders.Target}.lora_B.weight";

    public static TheoryData<float> Poisons => new() { float.NaN, float.PositiveInfinity, float.NegativeInfinity };

    [Theory]
    [MemberData(nameof(Poisons))]
    public void EveryCommandRefusesAnAdapterWithNonFiniteWeights(float poison)
    {
        using var tmp = new TempDir();
        var model = TinyFolders.Model(tmp.File("model"));
        var adapter = TinyFolders.Adapter(tmp.File("adapter"), poison);
        var ids = TinyFolders.Ids(tmp.File("ids.jsonl"));
        var quiz = tmp.File("quiz.jsonl");
        File.WriteAllText(quiz, """{"question": "q", "choices": ["a", "b"], "answer": 0}""" + "\n");
        var weights = Path.Combine(adapter, "adapter_model.safetensors");
        foreach (
            var args in new[]
            {
                new[] { "eval", "perplexity", "--model", model, "--adapter", adapter, "--data", ids },
                ["eval", "suite", "--model", model, "--adapter", adapter, "--ppl", ids],
                ["eval", "mcq", "--model", model, "--adapter", adapter, "--task", "mcq", "--data", quiz],
                ["generate", "--model", model, "--adapter", adapter, "--prompt-ids", "1,2,3", "--max-new-tokens", "2"],
                ["merge", "--model", model, "--adapter", adapter, "--out", tmp.File("merged")],
            }
        )
        {
            CliAssert.ClearError(CliRunner.Run(args), weights, AdapterTensor, "non-finite");
        }
        Assert.False(Directory.Exists(tmp.File("merged")));
    }

    [Fact]
    public void EveryCommandRefusesAModelWithNonFiniteWeights()
    {
        using var tmp = new TempDir();
        var model = TinyFolders.Model(tmp.File("model"), m =>
            m.named_parameters().Single(p => p.name == "model.layers.0.mlp.up_proj.weight").parameter[2, 5].fill_(float.NaN)
        );
        var ids = TinyFolders.Ids(tmp.File("ids.jsonl"));
        var adapter = TinyFolders.Adapter(tmp.File("adapter"));
        foreach (
            var args in new[]
            {
                new[] { "eval", "perplexity", "--model", model, "--data", ids },
                ["eval", "suite", "--model", model, "--ppl", ids],
                ["generate", "--model", model, "--prompt-ids", "1,2,3", "--max-new-tokens", "2"],
                ["merge", "--model", model, "--adapter", adapter, "--out", tmp.File("merged")],
                ["fisher", "--model", model, "--data", ids, "--out", tmp.File("f.safetensors"), "--samples", "1", "--max-length", "4"],
            }
        )
        {
            CliAssert.ClearError(CliRunner.Run(args), Path.Combine(model, "model.safetensors"), "model.layers.0.mlp.up_proj.weight", "non-finite");
        }
    }

    [Fact]
    public void AFloat16LoadRefusesWeightsBeyondItsRange()
    {
        // 1e5 is a finite float32 but past float16's largest value (65504): loaded as float16 it would be infinite
        using var tmp = new TempDir();
        var model = TinyFolders.Model(tmp.File("model"), m =>
            m.named_parameters().Single(p => p.name == "model.norm.weight").parameter[0].fill_(1e5f)
        );
        Assert.Equal(0, CliRunner.Run("generate", "--model", model, "--prompt-ids", "1,2", "--max-new-tokens", "1").Code);
        CliAssert.ClearError(
            CliRunner.Run("generate", "--model", model, "--prompt-ids", "1,2", "--max-new-tokens", "1", "--dtype", "float16"),
            "model.norm.weight",
            "float16"
        );
    }

    [Fact]
    public void AFiniteAdapterStillLoadsAndChangesTheOutput()
    {
        using var tmp = new TempDir();
        var model = TinyFolders.Model(tmp.File("model"));
        var adapter = TinyFolders.Adapter(tmp.File("adapter"));
        var ids = TinyFolders.Ids(tmp.File("ids.jsonl"));
        var (c1, o1, e1) = CliRunner.Run("eval", "perplexity", "--model", model, "--data", ids);
        var (c2, o2, e2) = CliRunner.Run("eval", "perplexity", "--model", model, "--data", ids, "--adapter", adapter);
        Assert.True(c1 == 0, e1);
        Assert.True(c2 == 0, e2);
        Assert.NotEqual(JsonNode.Parse(o1)!["nll_sum"]!.GetValue<double>(), JsonNode.Parse(o2)!["nll_sum"]!.GetValue<double>());
    }

    [Fact]
    public void JsonWritersWriteNonFiniteNumbersAsNull()
    {
        var tree = new JsonObject
        {
            ["a"] = double.NaN,
            ["b"] = new JsonArray(1.5, double.PositiveInfinity),
            ["c"] = new JsonObject { ["d"] = float.NegativeInfinity, ["e"] = 2 },
        };
        var parsed = JsonNode.Parse(EvalJson.Write(tree))!;
        Assert.Null(parsed["a"]);
        Assert.Equal(1.5, parsed["b"]![0]!.GetValue<double>());
        Assert.Null(parsed["b"]![1]);
        Assert.Null(parsed["c"]!["d"]);
        Assert.Equal(2, parsed["c"]!["e"]!.GetValue<int>());
    }

    [Fact]
    public void PerplexityOfADocumentWithNoPredictedTokenIsWrittenAsNull()
    {
        // a one-token document predicts nothing: its mean NLL is 0/0, which the JSON writer used to throw on
        using var tmp = new TempDir();
        var model = TinyFolders.Model(tmp.File("model"));
        var ids = tmp.File("ids.jsonl");
        File.WriteAllLines(ids, ["""{"input_ids": [5]}""", """{"input_ids": [5, 6, 7]}"""]);
        var (code, output, err) = CliRunner.Run("eval", "perplexity", "--model", model, "--data", ids, "--out", tmp.File("ppl.json"));
        Assert.True(code == 0, err);
        var docs = JsonNode.Parse(output)!["per_document"]!.AsArray();
        Assert.Equal(0, docs[0]!["tokens"]!.GetValue<int>());
        Assert.Null(docs[0]!["mean_nll"]);
        Assert.Equal(2, docs[1]!["tokens"]!.GetValue<int>());
        Assert.Equal(2, JsonNode.Parse(File.ReadAllText(tmp.File("ppl.json")))!["tokens"]!.GetValue<int>());
    }
}
