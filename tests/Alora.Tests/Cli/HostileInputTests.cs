using System.Text.Json.Nodes;

namespace Alora.Tests.Cli;

/// <summary>
/// Counts that must be positive, outputs that cannot be written, requests past the model's context and
/// other inputs that used to crash or run for nothing: each is one clear error before any work.
/// </summary>
[Collection(TorchRngCollection.Name)]
public class HostileInputTests
{
    [Theory]
    [InlineData("perplexity", "--batch-size", "0")]
    [InlineData("perplexity", "--max-length", "0")]
    [InlineData("perplexity", "--stride", "0")]
    [InlineData("perplexity", "--limit", "0")]
    [InlineData("perplexity", "--batch-size", "-2")]
    [InlineData("suite", "--batch-size", "0")]
    [InlineData("suite", "--max-length", "0")]
    [InlineData("suite", "--stride", "-1")]
    [InlineData("suite", "--limit", "0")]
    public void EvalCountsMustBePositive(string command, string option, string value)
    {
        using var tmp = new TempDir();
        var model = TinyFolders.Model(tmp.File("model"));
        var ids = TinyFolders.Ids(tmp.File("ids.jsonl"));
        string[] args =
            command == "suite" ? ["eval", "suite", "--model", model, "--ppl", ids] : ["eval", "perplexity", "--model", model, "--data", ids];
        CliAssert.ClearError(CliRunner.Run([.. args, option, value]), option, "at least 1", $"got {value}");
    }

    [Theory]
    [InlineData("eval", "mcq", "--batch-size", "0")]
    [InlineData("eval", "mcq", "--limit", "-1")]
    [InlineData("generate", "", "--max-new-tokens", "0")]
    [InlineData("generate", "", "--max-new-tokens", "-5")]
    [InlineData("fisher", "", "--samples", "0")]
    [InlineData("pretrain", "", "--kv-heads", "0")]
    [InlineData("pretrain", "", "--heads", "0")]
    public void CountsOfOtherCommandsMustBePositive(string command, string sub, string option, string value)
    {
        // refused while parsing, so the other options need not even be valid
        string[] args = sub.Length > 0 ? [command, sub] : [command];
        var r = CliRunner.Run([.. args, option, value]);
        Assert.Equal(1, r.Code);
        Assert.Contains($"error: {option} must be at least 1 (got {value})", r.Err);
        Assert.DoesNotContain("   at ", r.Err);
    }

    [Theory]
    [InlineData("num_key_value_heads")] // used to divide by zero in the config's own check
    [InlineData("max_position_embeddings")]
    public void AModelConfigWithAZeroSizeIsAnError(string key)
    {
        using var tmp = new TempDir();
        var model = TinyFolders.Model(tmp.File("model"));
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(model, "config.json")))!.AsObject();
        config[key] = 0;
        File.WriteAllText(Path.Combine(model, "config.json"), config.ToJsonString());
        CliAssert.ClearError(CliRunner.Run("generate", "--model", model, "--prompt-ids", "1", "--max-new-tokens", "1"), "config.json", key);
    }

    [Theory]
    [InlineData("perplexity")]
    [InlineData("mcq")]
    [InlineData("suite")]
    public void EvalChecksOutBeforeItEvaluates(string command)
    {
        using var tmp = new TempDir();
        var model = TinyFolders.Model(tmp.File("model"));
        var ids = TinyFolders.Ids(tmp.File("ids.jsonl"));
        var quiz = tmp.File("quiz.jsonl");
        File.WriteAllText(quiz, """{"question": "q", "choices": ["a", "b"], "answer": 0}""" + "\n");
        var blocker = tmp.File("a-file");
        File.WriteAllText(blocker, "");
        var outPath = Path.Combine(blocker, "result.json"); // its folder would have to be a file
        string[] args = command switch
        {
            "perplexity" => ["eval", "perplexity", "--model", model, "--data", ids],
            "suite" => ["eval", "suite", "--model", model, "--ppl", ids],
            // no tokenizer in the folder: mcq would fail at the tokenizer, after loading; the --out check comes first
            _ => ["eval", "mcq", "--model", model, "--task", "mcq", "--data", quiz],
        };
        var r = CliRunner.Run([.. args, "--out", outPath]);
        CliAssert.ClearError(r, "--out", outPath, "not a folder");
        Assert.Equal("", r.Out); // nothing was evaluated
    }

    [Fact]
    public void OutThatIsAFolderIsRefused()
    {
        using var tmp = new TempDir();
        var model = TinyFolders.Model(tmp.File("model"));
        var ids = TinyFolders.Ids(tmp.File("ids.jsonl"));
        CliAssert.ClearError(CliRunner.Run("eval", "perplexity", "--model", model, "--data", ids, "--out", tmp.Path), "--out", "is a folder");
        CliAssert.ClearError(
            CliRunner.Run("fisher", "--model", model, "--data", ids, "--out", Path.Combine(ids, "f.safetensors")),
            "--out",
            "not a folder"
        );
        CliAssert.ClearError(CliRunner.Run("bench", "importance", "--out", Path.Combine(ids, "b.json")), "--out", "not a folder");
    }

    [Fact]
    public void MergeChecksItsOutputFolderBeforeLoading()
    {
        using var tmp = new TempDir();
        var model = TinyFolders.Model(tmp.File("model"));
        var adapter = TinyFolders.Adapter(tmp.File("adapter"));
        var taken = tmp.File("taken");
        Directory.CreateDirectory(taken);
        File.WriteAllText(Path.Combine(taken, "keep.txt"), "mine");
        CliAssert.ClearError(CliRunner.Run("merge", "--model", model, "--adapter", adapter, "--out", taken), "--out", "not empty");
        Assert.Equal("mine", File.ReadAllText(Path.Combine(taken, "keep.txt")));
        var ids = TinyFolders.Ids(tmp.File("ids.jsonl"));
        CliAssert.ClearError(
            CliRunner.Run("merge", "--model", model, "--adapter", adapter, "--out", Path.Combine(ids, "merged")),
            "--out",
            "not a folder"
        );
        var (code, _, err) = CliRunner.Run("merge", "--model", model, "--adapter", adapter, "--out", tmp.File("new/merged"));
        Assert.True(code == 0, err);
        Assert.True(File.Exists(tmp.File("new/merged/model.safetensors")));
    }

    [Fact]
    public void GeneratePastTheContextIsAnErrorNamingBothNumbers()
    {
        // the tiny Llama's context is 128: a 100-token prompt leaves room for 29 new tokens (the last one is never read back)
        using var tmp = new TempDir();
        var model = TinyFolders.Model(tmp.File("model"));
        var prompt = string.Join(",", Enumerable.Range(0, 100).Select(i => 3 + i % 90));
        CliAssert.ClearError(
            CliRunner.Run("generate", "--model", model, "--prompt-ids", prompt, "--max-new-tokens", "30"),
            "100 tokens",
            "--max-new-tokens 30",
            "128"
        );
        var (code, output, err) = CliRunner.Run("generate", "--model", model, "--prompt-ids", prompt, "--max-new-tokens", "29", "--ignore-eos");
        Assert.True(code == 0, err);
        Assert.Equal(29, output.Split('\n').Single(l => l.StartsWith("new_ids: ", StringComparison.Ordinal))["new_ids: ".Length..].Split(',').Length);
        var longPrompt = string.Join(",", Enumerable.Range(0, 129).Select(i => 3 + i % 90));
        CliAssert.ClearError(CliRunner.Run("generate", "--model", model, "--prompt-ids", longPrompt, "--max-new-tokens", "1"), "129 tokens", "128");
    }

    [Fact]
    public void AdapterThatIsAFileOrAnUnfinishedRunIsNamed()
    {
        using var tmp = new TempDir();
        var model = TinyFolders.Model(tmp.File("model"));
        var adapter = TinyFolders.Adapter(tmp.File("run/domain"));
        string[] gen = ["generate", "--model", model, "--prompt-ids", "1,2", "--max-new-tokens", "1", "--adapter"];
        CliAssert.ClearError(CliRunner.Run([.. gen, Path.Combine(adapter, "adapter_model.safetensors")]), "is a file", "adapter_config.json");
        CliAssert.ClearError(CliRunner.Run([.. gen, tmp.File("run")]), "no adapter_config.json", "domain");
        File.Delete(Path.Combine(adapter, "adapter_model.safetensors"));
        CliAssert.ClearError(CliRunner.Run([.. gen, adapter]), "adapter_model.safetensors", "not found");
    }

    [Fact]
    public void AdapterOfModulesTheModelLacksNamesTheAdapter()
    {
        using var tmp = new TempDir();
        var model = TinyFolders.Model(tmp.File("model"));
        var adapter = TinyFolders.Adapter(tmp.File("adapter"));
        var configPath = Path.Combine(adapter, "adapter_config.json");
        var config = JsonNode.Parse(File.ReadAllText(configPath))!.AsObject();
        config["target_modules"] = new JsonArray("c_attn", "v_proj"); // GPT-2's module name in a Llama adapter
        File.WriteAllText(configPath, config.ToJsonString());
        string[] gen = ["generate", "--model", model, "--prompt-ids", "1,2", "--max-new-tokens", "1", "--adapter", adapter];
        CliAssert.ClearError(CliRunner.Run(gen), configPath, "c_attn");
        config["target_modules"] = "model\\.layers\\.[0-9]+\\.attn\\.c_attn"; // PEFT's regular-expression form, matching nothing here
        File.WriteAllText(configPath, config.ToJsonString());
        CliAssert.ClearError(CliRunner.Run(gen), configPath, "matches no module");
        config["target_modules"] = "model\\.layers\\.(";
        File.WriteAllText(configPath, config.ToJsonString());
        CliAssert.ClearError(CliRunner.Run(gen), configPath, "not a valid regular expression");
    }

    [FixtureFact]
    public void TextThatEncodesPastTheModelsVocabularyIsAnError()
    {
        // GPT-2's tokenizer (50257 ids) beside a model of 97: the ids would index past the embedding deep in the forward pass
        using var tmp = new TempDir();
        var model = TinyFolders.Model(tmp.File("model"));
        File.Copy(Path.Combine(Fixtures.Model("tiny-gpt2"), "tokenizer.json"), Path.Combine(model, "tokenizer.json"));
        var text = tmp.File("text.txt");
        File.WriteAllText(text, "Hello world, this is text.\n");
        CliAssert.ClearError(CliRunner.Run("eval", "perplexity", "--model", model, "--data", text), text, "vocabulary");
    }

    [Theory]
    [InlineData("empty.txt", "")]
    [InlineData("blank.txt", "\n\n  \n")]
    [InlineData("empty.jsonl", "")]
    [InlineData("none.json", "[]")]
    public void EmptyDataFilesAreNamed(string name, string content)
    {
        using var tmp = new TempDir();
        var model = TinyFolders.Model(tmp.File("model"));
        var data = tmp.File(name);
        File.WriteAllText(data, content);
        CliAssert.ClearError(CliRunner.Run("eval", "perplexity", "--model", model, "--data", data), data);
        CliAssert.ClearError(CliRunner.Run("eval", "suite", "--model", model, "--ppl", data), data);
        CliAssert.ClearError(CliRunner.Run("eval", "mcq", "--model", model, "--task", "mcq", "--data", data), data);
        CliAssert.ClearError(CliRunner.Run("fisher", "--model", model, "--data", data, "--out", tmp.File("f.safetensors")), data);
    }
}
