using System.Text.RegularExpressions;

namespace Alora.Hub;

/// <summary>The kinds of repository on the hub; each has its own URL prefix and cache folder prefix.</summary>
public enum HubRepoType
{
    Model,
    Dataset,
}

/// <summary>A repository at a revision (a branch, a tag or a 40-character commit hash), as the hub and its cache name it.</summary>
public sealed partial record HubRepo(HubRepoType Type, string Id, string Revision)
{
    public const string DefaultRevision = "main";

    /// <summary>What the cache calls the repository's folder: models--ORG--NAME or datasets--ORG--NAME.</summary>
    public string FolderName => (Type == HubRepoType.Model ? "models--" : "datasets--") + Id.Replace("/", "--", StringComparison.Ordinal);

    /// <summary>How the hub's URLs start for this repository: ORG/NAME for a model, datasets/ORG/NAME for a dataset.</summary>
    public string UrlPath => (Type == HubRepoType.Model ? "" : "datasets/") + Id;

    /// <summary>The repository as a user writes it, with its revision when it is not the default.</summary>
    public override string ToString() => Revision == DefaultRevision ? Id : $"{Id}@{Revision}";

    /// <summary>True for a full commit hash, which names a snapshot folder itself.</summary>
    public static bool IsCommitHash(string revision) => CommitHash().IsMatch(revision);

    /// <summary>
    /// ORG/NAME[@REVISION] as a repository, or null when the text is not one (a path with more parts, a name with
    /// characters the hub refuses). The hub's rules: letters, digits, '-', '_' and '.', no '--' or '..', at most 96
    /// characters, not ending in .git.
    /// </summary>
    public static HubRepo? TryParse(string spec, HubRepoType type)
    {
        ArgumentNullException.ThrowIfNull(spec);
        int at = spec.IndexOf('@', StringComparison.Ordinal);
        var id = at < 0 ? spec : spec[..at];
        var revision = at < 0 ? DefaultRevision : Uri.UnescapeDataString(spec[(at + 1)..]);
        if (!IsRepoId(id) || revision.Length == 0)
            return null;
        return new HubRepo(type, id, revision);
    }

    /// <summary>ORG/NAME with the hub's rules for names (<see cref="TryParse"/>).</summary>
    public static bool IsRepoId(string id) =>
        id.Length <= 96
        && RepoId().IsMatch(id)
        && !id.Contains("--", StringComparison.Ordinal)
        && !id.Contains("..", StringComparison.Ordinal)
        && !id.EndsWith(".git", StringComparison.Ordinal);

    /// <summary>
    /// A dataset file written as hf://datasets/ORG/NAME/PATH, with a revision either after the name
    /// (hf://datasets/ORG/NAME@REV/PATH, as huggingface_hub's file system writes it) or at the end (PATH@REV).
    /// </summary>
    public static (HubRepo Repo, string Path) ParseDatasetUri(string uri)
    {
        ArgumentNullException.ThrowIfNull(uri);
        const string Prefix = "hf://datasets/";
        AloraException Bad(string why) =>
            new($"{uri}: {why}; expected hf://datasets/ORG/NAME/PATH, with a revision as hf://datasets/ORG/NAME@REV/PATH or …/PATH@REV");
        if (!uri.StartsWith(Prefix, StringComparison.Ordinal))
            throw Bad("not a dataset address");
        var parts = uri[Prefix.Length..].Split('/');
        if (parts.Length < 3 || parts.Skip(2).Any(p => p.Length == 0 || p is "." or ".."))
            throw Bad("no file path after the repository");
        var name = parts[1];
        var path = string.Join('/', parts.Skip(2));
        string? revision = null;
        if (name.IndexOf('@', StringComparison.Ordinal) is var at and >= 0)
            (name, revision) = (name[..at], name[(at + 1)..]);
        else if (path.LastIndexOf('@') is var pathAt and > 0)
            (path, revision) = (path[..pathAt], path[(pathAt + 1)..]);
        var repo = TryParse($"{parts[0]}/{name}{(revision is null ? "" : "@" + revision)}", HubRepoType.Dataset)
            ?? throw Bad($"'{parts[0]}/{name}' is not a repository name");
        return (repo, path);
    }

    [GeneratedRegex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")]
    private static partial Regex RepoId();

    [GeneratedRegex("^[0-9a-f]{40}$")]
    private static partial Regex CommitHash();
}
