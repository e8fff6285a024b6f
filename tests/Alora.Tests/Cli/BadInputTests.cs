namespace Alora.Tests.Cli;

/// <summary>Bad inputs give one clear line on stderr and exit code 1, never a stack trace.</summary>
public class BadInputTests
{
    static (int Code, string Out, string Err) Generate(string modelDir) =>
        CliRunner.Run("generate", "--model", modelDir, "--prompt-ids", "1,2,3", "--max-new-tokens", "2");

    static void AssertClearError((int Code, string Out, string Err) r, params string[] fragments)
    {
        Assert.Equal(1, r.Code);
        Assert.StartsWith("error: ", r.Err);
        Assert.DoesNotContain("   at ", r.Err); // no stack trace
        foreach (var f in fragments)
            Assert.Contains(f, r.Err);
    }

    static TempDir CopyOfTinyLlama()
    {
        var tmp = new TempDir();
        foreach (var f in new[] { "config.json", "model.safetensors" })
            File.Copy(Path.Combine(Fixtures.Model("tiny-random-llama"), f), tmp.File(f));
        return tmp;
    }

    [Fact]
    public void MissingFolder() => AssertClearError(Generate("/nonexistent/model"), "/nonexistent/model", "not found");

    [FixtureFact]
    public void ConfigFieldOfWrongType()
    {
        using var tmp = CopyOfTinyLlama();
        File.WriteAllText(
            tmp.File("config.json"),
            File.ReadAllText(tmp.File("config.json")).Replace("\"hidden_size\": 16", "\"hidden_size\": \"sixteen\"")
        );
        AssertClearError(Generate(tmp.Path), "config.json", "hidden_size");
    }

    [FixtureFact]
    public void TruncatedSafetensors()
    {
        using var tmp = CopyOfTinyLlama();
        var bytes = File.ReadAllBytes(tmp.File("model.safetensors"));
        File.WriteAllBytes(tmp.File("model.safetensors"), bytes[..(bytes.Length / 2)]);
        AssertClearError(Generate(tmp.Path), "model.safetensors", "truncated");
    }

    [FixtureFact]
    public void HeaderLengthPastTheEnd()
    {
        using var tmp = CopyOfTinyLlama();
        var bytes = File.ReadAllBytes(tmp.File("model.safetensors"));
        BitConverter.GetBytes((ulong)bytes.Length * 2).CopyTo(bytes, 0);
        File.WriteAllBytes(tmp.File("model.safetensors"), bytes);
        AssertClearError(Generate(tmp.Path), "model.safetensors", "header length");
    }

    [FixtureFact]
    public void HeaderOffsetsPastTheEnd()
    {
        using var tmp = CopyOfTinyLlama();
        var bytes = File.ReadAllBytes(tmp.File("model.safetensors"));
        // shrink the data part by 4 bytes (the header is intact, the last tensor's end offset now runs past the end)
        File.WriteAllBytes(tmp.File("model.safetensors"), bytes[..^4]);
        AssertClearError(Generate(tmp.Path), "model.safetensors", "past the end");
    }

    [FixtureFact]
    public void TensorOfTheWrongShape()
    {
        using var tmp = CopyOfTinyLlama();
        File.WriteAllText(
            tmp.File("config.json"),
            File.ReadAllText(tmp.File("config.json")).Replace("\"intermediate_size\": 64", "\"intermediate_size\": 32")
        );
        AssertClearError(Generate(tmp.Path), "wrong shapes", "mlp.down_proj.weight", "[16, 64]", "[16, 32]");
    }

    [FixtureFact]
    public void MissingAndUnexpectedTensorsAreListed()
    {
        using var tmp = CopyOfTinyLlama();
        File.WriteAllText(
            tmp.File("config.json"),
            File.ReadAllText(tmp.File("config.json")).Replace("\"num_hidden_layers\": 2", "\"num_hidden_layers\": 3")
        );
        AssertClearError(Generate(tmp.Path), "missing tensors", "model.layers.2.self_attn.q_proj.weight");
    }

    [Fact]
    public void MissingDataFile()
    {
        var r = CliRunner.Run("eval", "perplexity", "--model", "/nonexistent/model", "--data", "/nonexistent/data.txt");
        Assert.Equal(1, r.Code);
        Assert.Contains("/nonexistent/", r.Err);
    }

    [FixtureFact]
    public void PromptIdOutsideVocabulary() =>
        AssertClearError(CliRunner.Run("generate", "--model", Fixtures.Model("tiny-random-llama"), "--prompt-ids", "1,99999"), "vocabulary");
}
