using System.Text.Json.Nodes;
using Alora.IO;

namespace Alora.Hub;

/// <summary>
/// Models, adapters and dataset files named as on the Hugging Face hub (ORG/NAME[@REVISION],
/// hf://datasets/ORG/NAME/PATH), resolved to paths in the Hugging Face cache, downloading what it lacks unless
/// offline. A local path is returned as it is: an existing folder wins over a repository of the same name.
/// </summary>
public static class HubFiles
{
    /// <summary>The files a model folder may hold that Alora reads (weights aside, which depend on the index).</summary>
    static readonly string[] ModelExtras =
    [
        "tokenizer.json",
        "tokenizer.model",
        "tokenizer_config.json",
        "special_tokens_map.json",
        "generation_config.json",
    ];
    const string SingleWeights = "model.safetensors";
    const string WeightsIndex = "model.safetensors.index.json";

    /// <summary>True when <paramref name="spec"/> is no local path but names a repository (ORG/NAME[@REVISION]).</summary>
    public static bool IsRepoSpec(string spec) =>
        !string.IsNullOrWhiteSpace(spec) && !Directory.Exists(spec) && !File.Exists(spec) && HubRepo.TryParse(spec, HubRepoType.Model) is not null;

    /// <summary>True for an hf:// address.</summary>
    public static bool IsHubUri(string path) => path.StartsWith("hf://", StringComparison.Ordinal);

    /// <summary>
    /// A model folder: <paramref name="spec"/> itself when it is not a repository, else its snapshot folder in the
    /// cache with config.json, the safetensors weights (model.safetensors, or the index and the shards it names) and
    /// the tokenizer and generation files the repository has.
    /// </summary>
    public static string ModelFolder(string spec, HubSettings? settings = null, IHubReporter? reporter = null)
    {
        if (!IsRepoSpec(spec))
            return spec;
        using var s = new HubSession(HubRepo.TryParse(spec, HubRepoType.Model)!, settings, reporter);
        First(s, "config.json", spec);
        if (s.Fetch(SingleWeights, required: false) is null)
        {
            var index = s.Fetch(WeightsIndex, required: false)
                ?? throw new AloraException(
                    $"{s.Repo}: neither {SingleWeights} nor {WeightsIndex} {(s.Online ? "is in the repository" : "is in the cache")} (Alora reads safetensors weights)"
                );
            foreach (var shard in Shards(index))
                s.Fetch(shard, required: true);
        }
        foreach (var extra in ModelExtras)
            s.Fetch(extra, required: false);
        return s.Folder;
    }

    /// <summary>A tokenizer folder: the path itself, or the repository's config.json and tokenizer files (no weights).</summary>
    public static string TokenizerFolder(string spec, HubSettings? settings = null, IHubReporter? reporter = null)
    {
        if (!IsRepoSpec(spec))
            return spec;
        using var s = new HubSession(HubRepo.TryParse(spec, HubRepoType.Model)!, settings, reporter);
        First(s, "config.json", spec);
        foreach (var extra in ModelExtras)
            s.Fetch(extra, required: false);
        return s.Folder;
    }

    /// <summary>A PEFT adapter folder: the path itself, or the repository's adapter_config.json and adapter_model.safetensors.</summary>
    public static string AdapterFolder(string spec, HubSettings? settings = null, IHubReporter? reporter = null)
    {
        if (!IsRepoSpec(spec))
            return spec;
        using var s = new HubSession(HubRepo.TryParse(spec, HubRepoType.Model)!, settings, reporter);
        First(s, Lora.PeftAdapter.ConfigFile, spec);
        s.Fetch(Lora.PeftAdapter.WeightsFile, required: true);
        return s.Folder;
    }

    /// <summary>A data file: the path itself, or for hf://datasets/ORG/NAME/PATH[@REV] the file in the cache.</summary>
    public static string DataFile(string path, HubSettings? settings = null, IHubReporter? reporter = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!IsHubUri(path))
            return path;
        var (repo, file) = HubRepo.ParseDatasetUri(path);
        using var s = new HubSession(repo, settings, reporter);
        return s.Fetch(file, required: true)!;
    }

    /// <summary>The first file asked for: when it fails, the user may have meant a local folder that is not there.</summary>
    static void First(HubSession s, string file, string spec)
    {
        try
        {
            s.Fetch(file, required: true);
        }
        catch (AloraException e)
        {
            throw new AloraException($"{e.Message} (read as a hub repository: no folder {spec} exists here)", e);
        }
    }

    /// <summary>The shard files an index's weight_map names, each once, in the order first named.</summary>
    static List<string> Shards(string indexPath)
    {
        var map = JsonFile.Read(indexPath)["weight_map"] as JsonObject ?? throw new AloraException($"{indexPath}: no 'weight_map' object");
        var shards = new List<string>();
        foreach (var (_, v) in map)
        {
            var name = v?.GetValueKind() == System.Text.Json.JsonValueKind.String ? v.GetValue<string>() : null;
            if (name is null || name.Length == 0 || name.StartsWith('/') || name.Split('/').Contains(".."))
                throw new AloraException($"{indexPath}: weight_map names '{v?.ToJsonString()}', not a file of the repository");
            if (!shards.Contains(name))
                shards.Add(name);
        }
        return shards;
    }
}
