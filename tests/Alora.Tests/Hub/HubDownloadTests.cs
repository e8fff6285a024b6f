using Alora.Hub;

namespace Alora.Tests.Hub;

/// <summary>
/// Resolving repositories through the Hugging Face cache against <see cref="LoopbackHub"/>, checked against the
/// cache layout huggingface_hub writes (blobs named by etag, relative snapshot links, refs) and hashes computed here.
/// </summary>
public sealed class HubDownloadTests : IDisposable
{
    const string Commit = "0123456789abcdef0123456789abcdef01234567";
    readonly LoopbackHub hub = new();
    readonly TempDir cache = new();

    public void Dispose()
    {
        hub.Dispose();
        cache.Dispose();
    }

    HubSettings Settings(string? token = null, bool offline = false) =>
        new()
        {
            CacheDir = cache.Path,
            Endpoint = hub.Endpoint,
            Token = token,
            Offline = offline,
        };

    static Dictionary<string, byte[]> FixtureFiles(string model, params string[] names) =>
        names.ToDictionary(n => n, n => File.ReadAllBytes(Path.Combine(Fixtures.Model(model), n)));

    static Dictionary<string, byte[]> Gpt2Files() =>
        FixtureFiles(
            "tiny-gpt2",
            "config.json",
            "model.safetensors",
            "tokenizer.json",
            "tokenizer_config.json",
            "special_tokens_map.json",
            "vocab.json"
        );

    sealed class Recorder : IHubReporter
    {
        public List<string> Warnings { get; } = [];
        public List<(string File, long Done, long Total)> Steps { get; } = [];

        public void Progress(string file, long done, long total) => Steps.Add((file, done, total));

        public void Warn(string message) => Warnings.Add(message);
    }

    [FixtureFact]
    public void A_cold_download_writes_the_cache_layout_of_huggingface_hub()
    {
        var files = Gpt2Files();
        hub.AddModel("org/tiny-gpt2", Commit, files);
        var progress = new Recorder();
        var folder = HubFiles.ModelFolder("org/tiny-gpt2", Settings(token: "hf_secret"), progress);

        var repoDir = Path.Combine(cache.Path, "models--org--tiny-gpt2");
        Assert.Equal(Path.Combine(repoDir, "snapshots", Commit), folder);
        Assert.Equal(Commit, File.ReadAllText(Path.Combine(repoDir, "refs", "main")));
        foreach (var name in new[] { "config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json" })
        {
            var etag = LoopbackHub.IsLfs(name) ? LoopbackHub.Sha256(files[name]) : LoopbackHub.GitBlobSha1(files[name]);
            var link = new FileInfo(Path.Combine(folder, name));
            Assert.Equal($"../../blobs/{etag}", link.LinkTarget);
            Assert.Equal(files[name], File.ReadAllBytes(link.FullName));
        }
        Assert.False(File.Exists(Path.Combine(folder, "vocab.json"))); // not a file Alora reads
        Assert.Empty(Directory.GetFiles(Path.Combine(repoDir, "blobs"), "*.incomplete"));
        // generation_config.json is absent from the repository: remembered as huggingface_hub does
        Assert.True(File.Exists(Path.Combine(repoDir, ".no_exist", Commit, "generation_config.json")));
        // the token goes to the hub, never to the storage an LFS file is redirected to
        Assert.All(hub.Log.Where(r => r.Host == "hub"), r => Assert.Equal("Bearer hf_secret", r.Headers["Authorization"]));
        var lfsGet = Assert.Single(hub.Log, r => r.Host == "storage");
        Assert.False(lfsGet.Headers.ContainsKey("Authorization"));
        var weights = progress.Steps.Where(s => s.File == "org/tiny-gpt2: model.safetensors").ToList();
        Assert.Equal((0, files["model.safetensors"].Length), (weights[0].Done, weights[0].Total));
        Assert.Equal((files["model.safetensors"].Length, files["model.safetensors"].Length), (weights[^1].Done, weights[^1].Total));
    }

    [FixtureFact]
    public void A_warm_cache_serves_with_the_hub_stopped_and_offline_asks_nothing()
    {
        hub.AddModel("org/tiny-gpt2", Commit, Gpt2Files());
        var first = HubFiles.ModelFolder("org/tiny-gpt2", Settings());
        int requests = hub.Log.Count;

        var quiet = HubFiles.ModelFolder("org/tiny-gpt2", Settings(offline: true));
        Assert.Equal(first, quiet);
        Assert.Equal(requests, hub.Log.Count);

        hub.Stop();
        var warnings = new Recorder();
        Assert.Equal(first, HubFiles.ModelFolder("org/tiny-gpt2", Settings(), warnings));
        Assert.Contains(warnings.Warnings, w => w.Contains("cannot reach", StringComparison.Ordinal));
        // a commit hash names its snapshot itself: nothing to ask even online
        Assert.Equal(first, HubFiles.ModelFolder($"org/tiny-gpt2@{Commit}", Settings()));
    }

    [FixtureFact]
    public void An_interrupted_download_resumes_from_where_it_broke_off()
    {
        var files = Gpt2Files();
        hub.AddModel("org/tiny-gpt2", Commit, files);
        hub.CutOnce["model.safetensors"] = 100_000;
        var progress = new Recorder();
        var folder = HubFiles.ModelFolder("org/tiny-gpt2", Settings(), progress);

        Assert.Equal(files["model.safetensors"], File.ReadAllBytes(Path.Combine(folder, "model.safetensors")));
        var gets = hub.Log.Where(r => r.Host == "storage").ToList();
        Assert.Equal(2, gets.Count);
        Assert.False(gets[0].Headers.ContainsKey("Range"));
        Assert.Equal("bytes=100000-", gets[1].Headers["Range"]);
        Assert.Contains(progress.Warnings, w => w.Contains("retrying from byte 100000", StringComparison.Ordinal));
    }

    [FixtureFact]
    public void A_download_left_incomplete_by_an_earlier_run_is_resumed()
    {
        var files = Gpt2Files();
        hub.AddModel("org/tiny-gpt2", Commit, files);
        var sha = LoopbackHub.Sha256(files["model.safetensors"]);
        var blobs = Path.Combine(cache.Path, "models--org--tiny-gpt2", "blobs");
        Directory.CreateDirectory(blobs);
        File.WriteAllBytes(Path.Combine(blobs, sha + ".incomplete"), files["model.safetensors"][..12345]);

        var folder = HubFiles.ModelFolder("org/tiny-gpt2", Settings());
        Assert.Equal(files["model.safetensors"], File.ReadAllBytes(Path.Combine(folder, "model.safetensors")));
        Assert.Equal("bytes=12345-", Assert.Single(hub.Log, r => r.Host == "storage").Headers["Range"]);
    }

    [FixtureFact]
    public void A_corrupted_download_is_detected_and_leaves_no_file()
    {
        hub.AddModel("org/tiny-gpt2", Commit, Gpt2Files());
        hub.Corrupt["model.safetensors"] = true;
        var e = Assert.Throws<AloraException>(() => HubFiles.ModelFolder("org/tiny-gpt2", Settings()));
        Assert.Contains("org/tiny-gpt2: model.safetensors", e.Message, StringComparison.Ordinal);
        Assert.Contains("corrupt", e.Message, StringComparison.Ordinal);
        Assert.Contains("sha256", e.Message, StringComparison.Ordinal);
        var repoDir = Path.Combine(cache.Path, "models--org--tiny-gpt2");
        Assert.DoesNotContain(Directory.GetFiles(Path.Combine(repoDir, "blobs"), "*"), f => new FileInfo(f).Length > 1000); // only the small config blob
        Assert.False(File.Exists(Path.Combine(repoDir, "snapshots", Commit, "model.safetensors")));
    }

    [FixtureFact]
    public void A_cached_blob_of_the_wrong_size_is_downloaded_again()
    {
        var files = Gpt2Files();
        hub.AddModel("org/tiny-gpt2", Commit, files);
        var folder = HubFiles.ModelFolder("org/tiny-gpt2", Settings());
        var blob = Path.Combine(cache.Path, "models--org--tiny-gpt2", "blobs", LoopbackHub.Sha256(files["model.safetensors"]));
        File.WriteAllBytes(blob, files["model.safetensors"][..1000]);
        // a new resolution by branch asks the hub again (the branch may have moved) and sees the size is wrong
        File.Delete(Path.Combine(folder, "model.safetensors"));
        var progress = new Recorder();
        HubFiles.ModelFolder("org/tiny-gpt2", Settings(), progress);
        Assert.Equal(files["model.safetensors"], File.ReadAllBytes(blob));
        Assert.Contains(progress.Warnings, w => w.Contains("downloading it again", StringComparison.Ordinal));
    }

    [FixtureFact]
    public void Offline_with_a_missing_file_names_the_repository_and_the_file()
    {
        hub.AddModel("org/tiny-gpt2", Commit, Gpt2Files());
        var e = Assert.Throws<AloraException>(() => HubFiles.ModelFolder("org/tiny-gpt2", Settings(offline: true)));
        Assert.Equal(
            $"org/tiny-gpt2: config.json is not in the Hugging Face cache at {cache.Path}, and HF_HUB_OFFLINE is set: run once with the hub reachable to download it (read as a hub repository: no folder org/tiny-gpt2 exists here)",
            e.Message
        );
        Assert.Empty(hub.Log);
    }

    [FixtureFact]
    public void A_gated_repository_needs_a_token()
    {
        hub.AddModel("org/gated", Commit, Gpt2Files(), gated: true);
        var e = Assert.Throws<AloraException>(() => HubFiles.ModelFolder("org/gated", Settings()));
        Assert.StartsWith("org/gated: gated repository: config.json needs a token", e.Message, StringComparison.Ordinal);
        Assert.Contains("HF_TOKEN", e.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(cache.Path, "models--org--gated", "snapshots")));
        var wrong = Assert.Throws<AloraException>(() => HubFiles.ModelFolder("org/gated", Settings(token: "hf_wrong")));
        Assert.Contains("the token in HF_TOKEN has no access", wrong.Message, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(HubFiles.ModelFolder("org/gated", Settings(token: hub.AcceptedToken)), "model.safetensors")));
    }

    [Fact]
    public void An_unknown_repository_or_revision_is_a_clear_error()
    {
        var e = Assert.Throws<AloraException>(() => HubFiles.ModelFolder("org/nothing", Settings()));
        Assert.StartsWith($"org/nothing: repository not found on {hub.Endpoint}", e.Message, StringComparison.Ordinal);
        hub.AddModel("org/tiny", Commit, new() { ["config.json"] = "{}"u8.ToArray() });
        var r = Assert.Throws<AloraException>(() => HubFiles.ModelFolder("org/tiny@v9", Settings()));
        Assert.StartsWith("org/tiny: revision 'v9' not found", r.Message, StringComparison.Ordinal);
        var w = Assert.Throws<AloraException>(() => HubFiles.ModelFolder("org/tiny", Settings()));
        Assert.Equal(
            "org/tiny: neither model.safetensors nor model.safetensors.index.json is in the repository (Alora reads safetensors weights)",
            w.Message
        );
    }

    [FixtureFact]
    public void A_sharded_checkpoint_fetches_its_index_then_only_the_shards_it_names()
    {
        const string M = "tiny-random-llama3-bf16-sharded";
        var files = FixtureFiles(
            M,
            "config.json",
            "model.safetensors.index.json",
            "model-00001-of-00002.safetensors",
            "model-00002-of-00002.safetensors"
        );
        files["model-00003-of-00003.safetensors"] = [1, 2, 3]; // a stale shard no index names
        hub.AddModel("org/sharded", Commit, files);
        var folder = HubFiles.ModelFolder("org/sharded", Settings());

        var order = hub.Log.Where(r => r.Host == "hub").Select(r => $"{r.Method} {r.Path.Split('/')[^1]}").ToList();
        int index = order.IndexOf("GET model.safetensors.index.json");
        Assert.True(index > order.IndexOf("HEAD model.safetensors"));
        Assert.True(index < order.IndexOf("HEAD model-00001-of-00002.safetensors"));
        Assert.DoesNotContain(hub.Log, r => r.Path.Contains("00003", StringComparison.Ordinal));
        foreach (var name in files.Keys.Where(n => !n.Contains("00003", StringComparison.Ordinal)))
            Assert.Equal(files[name], File.ReadAllBytes(Path.Combine(folder, name)));
        using var fromHub = Alora.Models.ModelLoader.Load(folder);
        using var fromFolder = Alora.Models.ModelLoader.Load(Fixtures.Model(M));
        foreach (var ((name, a), (_, b)) in fromHub.state_dict().Zip(fromFolder.state_dict()))
            Assert.True(a.eq(b).all().item<bool>(), name);
    }

    [FixtureFact]
    public void A_renamed_repository_is_followed_within_the_hub()
    {
        hub.AddModel("org/new-name", Commit, Gpt2Files());
        hub.Rename("org/old-name", "org/new-name");
        var folder = HubFiles.ModelFolder("org/old-name", Settings());
        Assert.Equal(Path.Combine(cache.Path, "models--org--old-name", "snapshots", Commit), folder);
        Assert.True(File.Exists(Path.Combine(folder, "model.safetensors")));
    }

    [Fact]
    public void Dataset_files_resolve_with_a_revision_in_either_place()
    {
        var text = "{\"text\": \"one\"}\n"u8.ToArray();
        hub.AddDataset("org/corpus", Commit, new() { ["data/test.jsonl"] = text }, "main", "v1.0");
        foreach (
            var uri in new[]
            {
                "hf://datasets/org/corpus/data/test.jsonl",
                "hf://datasets/org/corpus@v1.0/data/test.jsonl",
                "hf://datasets/org/corpus/data/test.jsonl@v1.0",
            }
        )
        {
            var path = HubFiles.DataFile(uri, Settings());
            Assert.Equal(Path.Combine(cache.Path, "datasets--org--corpus", "snapshots", Commit, "data", "test.jsonl"), path);
            Assert.Equal(text, File.ReadAllBytes(path));
        }
        Assert.Equal(Commit, File.ReadAllText(Path.Combine(cache.Path, "datasets--org--corpus", "refs", "v1.0")));
        Assert.Contains(hub.Log, r => r.Path == "/datasets/org/corpus/resolve/v1.0/data/test.jsonl");
        var e = Assert.Throws<AloraException>(() => HubFiles.DataFile("hf://datasets/org/corpus/data/train.jsonl", Settings()));
        Assert.StartsWith("org/corpus: data/train.jsonl not found in the repository", e.Message, StringComparison.Ordinal);
    }
}
