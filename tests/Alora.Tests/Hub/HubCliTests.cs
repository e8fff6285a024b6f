using System.Collections;
using System.Text.Json.Nodes;
using Alora.Tests.Cli;

namespace Alora.Tests.Hub;

/// <summary>
/// The CLI with hub names, its settings from the environment as a user's shell gives them (HF_HUB_CACHE,
/// HF_ENDPOINT, HF_TOKEN, HF_HUB_OFFLINE), against <see cref="LoopbackHub"/>. Tests run one at a time
/// (AssemblyInfo), so setting the process's variables for one test is safe; each is restored after.
/// </summary>
public sealed class HubCliTests : IDisposable
{
    const string Commit = "fedcba9876543210fedcba9876543210fedcba98";
    static readonly string[] Variables =
    [
        "HF_HOME",
        "HF_HUB_CACHE",
        "HUGGINGFACE_HUB_CACHE",
        "HF_ENDPOINT",
        "HF_TOKEN",
        "HF_HUB_OFFLINE",
        "HF_TOKEN_PATH",
    ];
    readonly Dictionary<string, string?> saved = Variables.ToDictionary(v => v, Environment.GetEnvironmentVariable);
    readonly LoopbackHub hub = new();
    readonly TempDir tmp = new();

    public HubCliTests()
    {
        foreach (var v in Variables)
            Environment.SetEnvironmentVariable(v, null);
        Environment.SetEnvironmentVariable("HF_HOME", Path.Combine(tmp.Path, "hf-home")); // no token file of the user's
        Environment.SetEnvironmentVariable("HF_HUB_CACHE", Path.Combine(tmp.Path, "hub"));
        Environment.SetEnvironmentVariable("HF_ENDPOINT", hub.Endpoint);
    }

    public void Dispose()
    {
        foreach (var (k, v) in saved)
            Environment.SetEnvironmentVariable(k, v);
        hub.Dispose();
        tmp.Dispose();
    }

    static Dictionary<string, byte[]> Files(string model, params string[] names) =>
        names.ToDictionary(n => n, n => File.ReadAllBytes(Path.Combine(Fixtures.Model(model), n)));

    [FixtureFact]
    public void A_model_fetched_into_an_empty_cache_scores_as_its_folder_does()
    {
        hub.AddModel("org/tiny-gpt2", Commit, Files("tiny-gpt2", "config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"));
        var text = Path.Combine(tmp.Path, "docs.jsonl");
        File.WriteAllText(
            text,
            "{\"text\": \"The cat sat on the mat.\"}\n{\"text\": \"Stocks fell sharply on Monday as investors weighed the news.\"}\n"
        );
        hub.AddDataset("org/docs", Commit, new() { ["test/docs.jsonl"] = File.ReadAllBytes(text) });

        var fromFolder = CliRunner.Run("eval", "perplexity", "--model", Fixtures.Model("tiny-gpt2"), "--data", text);
        var fromHub = CliRunner.Run("eval", "perplexity", "--model", "org/tiny-gpt2", "--data", "hf://datasets/org/docs/test/docs.jsonl");
        Assert.True(fromFolder.Code == 0, fromFolder.Err);
        Assert.True(fromHub.Code == 0, fromHub.Err);
        var a = JsonNode.Parse(fromFolder.Out)!;
        var b = JsonNode.Parse(fromHub.Out)!;
        foreach (var key in new[] { "tokens", "nll_sum", "perplexity", "word_perplexity", "bits_per_byte" })
            Assert.Equal(a[key]!.ToJsonString(), b[key]!.ToJsonString());
        Assert.Equal("org/tiny-gpt2", b["model_id"]!.GetValue<string>());
        Assert.Equal(Path.Combine(tmp.Path, "hub", "models--org--tiny-gpt2", "snapshots", Commit), b["model"]!.GetValue<string>());
        Assert.Contains("downloading org/tiny-gpt2: model.safetensors (403.6 KB)", fromHub.Err, StringComparison.Ordinal);

        // the same again offline: nothing asked of the hub
        int requests = hub.Log.Count;
        Environment.SetEnvironmentVariable("HF_HUB_OFFLINE", "1");
        var offline = CliRunner.Run("eval", "perplexity", "--model", "org/tiny-gpt2", "--data", "hf://datasets/org/docs/test/docs.jsonl");
        Assert.True(offline.Code == 0, offline.Err);
        Assert.Equal(a["nll_sum"]!.ToJsonString(), JsonNode.Parse(offline.Out)!["nll_sum"]!.ToJsonString());
        Assert.Equal(requests, hub.Log.Count);
    }

    [Fact]
    public void Offline_a_model_not_in_the_cache_is_one_clear_error()
    {
        Environment.SetEnvironmentVariable("HF_HUB_OFFLINE", "yes");
        var (code, output, err) = CliRunner.Run("eval", "perplexity", "--model", "org/absent", "--data", "hf://datasets/org/docs/x.jsonl");
        Assert.Equal(1, code);
        Assert.Equal("", output);
        Assert.Equal(
            $"error: org/absent: config.json is not in the Hugging Face cache at {Path.Combine(tmp.Path, "hub")}, and HF_HUB_OFFLINE is set: run once with the hub reachable to download it (read as a hub repository: no folder org/absent exists here)",
            err.Trim()
        );
    }

    [FixtureFact]
    public void A_gated_model_takes_the_token_from_HF_TOKEN()
    {
        hub.AddModel("org/gated", Commit, Files("tiny-random-llama3", "config.json", "model.safetensors"), gated: true);
        var refused = CliRunner.Run("generate", "--model", "org/gated", "--prompt-ids", "1,2", "--max-new-tokens", "2");
        Assert.Equal(1, refused.Code);
        Assert.StartsWith("error: org/gated: gated repository", refused.Err, StringComparison.Ordinal);
        Environment.SetEnvironmentVariable("HF_TOKEN", hub.AcceptedToken);
        var viaHub = CliRunner.Run("generate", "--model", "org/gated", "--prompt-ids", "1,2", "--max-new-tokens", "4");
        var viaFolder = CliRunner.Run("generate", "--model", Fixtures.Model("tiny-random-llama3"), "--prompt-ids", "1,2", "--max-new-tokens", "4");
        Assert.True(viaHub.Code == 0, viaHub.Err);
        Assert.Equal(viaFolder.Out, viaHub.Out);
    }

    [Fact]
    public void Settings_follow_huggingface_hubs_variables()
    {
        var home = Path.Combine(tmp.Path, "home");
        Directory.CreateDirectory(home);
        File.WriteAllText(Path.Combine(home, "token"), "hf_from_file\n");
        var s = Alora.Hub.HubSettings.FromVariables(
            new Hashtable
            {
                ["HF_HOME"] = home,
                ["HF_ENDPOINT"] = "http://mirror.example/",
                ["HF_HUB_OFFLINE"] = "True",
            }
        );
        Assert.Equal((Path.Combine(home, "hub"), "http://mirror.example", "hf_from_file", true), (s.CacheDir, s.Endpoint, s.Token, s.Offline));
        var t = Alora.Hub.HubSettings.FromVariables(
            new Hashtable
            {
                ["HF_HOME"] = home,
                ["HF_HUB_CACHE"] = "/c/hub",
                ["HF_TOKEN"] = "hf_env",
                ["HF_HUB_OFFLINE"] = "0",
            }
        );
        Assert.Equal(("/c/hub", Alora.Hub.HubSettings.PublicEndpoint, "hf_env", false), (t.CacheDir, t.Endpoint, t.Token, t.Offline));
        var x = Alora.Hub.HubSettings.FromVariables(
            new Hashtable
            {
                ["XDG_CACHE_HOME"] = "/xdg",
                ["HUGGINGFACE_HUB_CACHE"] = "/old/hub",
                ["HF_HOME"] = home + "-none",
            }
        );
        Assert.Equal(("/old/hub", null), (x.CacheDir, x.Token));
        Assert.Equal("/xdg/huggingface/hub", Alora.Hub.HubSettings.FromVariables(new Hashtable { ["XDG_CACHE_HOME"] = "/xdg" }).CacheDir);
        var e = Assert.Throws<AloraException>(() => Alora.Hub.HubSettings.FromVariables(new Hashtable { ["HF_HUB_ETAG_TIMEOUT"] = "NaN" }));
        Assert.Contains("HF_HUB_ETAG_TIMEOUT", e.Message, StringComparison.Ordinal);
        var u = Assert.Throws<AloraException>(() => Alora.Hub.HubSettings.FromVariables(new Hashtable { ["HF_ENDPOINT"] = "huggingface.co" }));
        Assert.StartsWith("environment variable HF_ENDPOINT='huggingface.co'", u.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("org/name", "org/name", "main")]
    [InlineData("meta-llama/Llama-3.2-1B@v1.0", "meta-llama/Llama-3.2-1B", "v1.0")]
    [InlineData("org/name@refs%2Fpr%2F1", "org/name", "refs/pr/1")]
    [InlineData("a/b/c", null, null)]
    [InlineData("org/na--me", null, null)]
    [InlineData("org/name.git", null, null)]
    [InlineData("./org/name", null, null)]
    [InlineData("name", null, null)]
    [InlineData("org/name@", null, null)]
    public void Repository_names_follow_the_hubs_rules(string spec, string? id, string? revision)
    {
        var repo = Alora.Hub.HubRepo.TryParse(spec, Alora.Hub.HubRepoType.Model);
        Assert.Equal((id, revision), (repo?.Id, repo?.Revision));
    }
}
