namespace Alora.Hub;

/// <summary>
/// The files of one repository at one revision, fetched one by one as huggingface_hub's hf_hub_download does: a HEAD
/// names the commit and the blob; a blob the cache lacks is downloaded; the snapshot link and the ref are written.
/// The first answer pins the commit, so that every file comes from the same one (and those already linked there need
/// no request). Offline, or once the hub proves unreachable, files come from the cache alone.
/// </summary>
internal sealed class HubSession : IDisposable
{
    readonly HubSettings settings;
    readonly HubCache cache;
    readonly IHubReporter reporter;
    HubClient? client;
    string? commit;
    string? unreachable;

    public HubSession(HubRepo repo, HubSettings? settings, IHubReporter? reporter)
    {
        Repo = repo;
        this.settings = settings ?? HubSettings.FromEnvironment();
        this.reporter = reporter ?? SilentHubReporter.Instance;
        cache = new HubCache(this.settings.CacheDir);
        Online = !this.settings.Offline;
    }

    public HubRepo Repo { get; }

    /// <summary>False when offline, or once the hub could not be reached.</summary>
    public bool Online { get; private set; }

    /// <summary>The snapshot folder of the pinned commit.</summary>
    public string Folder => cache.SnapshotDir(Repo, commit ?? throw new InvalidOperationException("no file resolved yet"));

    /// <summary>The file's path in the snapshot, or null when it is optional and the repository (or, offline, the cache) lacks it.</summary>
    public string? Fetch(string file, bool required)
    {
        var pinned = commit ?? (HubRepo.IsCommitHash(Repo.Revision) ? Repo.Revision : null);
        if (pinned is not null)
        {
            // a commit's files never change: what the cache knows of them needs no request
            var hit = cache.CachedFile(Repo, pinned, file);
            if (hit is not null || cache.KnownMissing(Repo, pinned, file))
            {
                commit = pinned;
                return hit ?? (required ? throw Missing(file) : null);
            }
        }
        if (!Online)
            return FromCache(file, required);
        HubFileMetadata? meta;
        string? missingAt;
        try
        {
            client ??= new HubClient(settings);
            (meta, missingAt) = client.Head(Repo, commit ?? Repo.Revision, file);
        }
        catch (HubUnreachableException e)
        {
            Online = false;
            unreachable = e.Message;
            reporter.Warn($"{e.Message}; using the Hugging Face cache at {settings.CacheDir}");
            return FromCache(file, required);
        }
        catch (AloraException e) when (CachedCopy(file) is { } cached)
        {
            reporter.Warn($"{e.Message}; using the copy in the Hugging Face cache");
            return cached;
        }
        if (meta is null)
        {
            if ((commit ?? missingAt) is { } at)
                cache.MarkMissing(Repo, at, file);
            return required ? throw Missing(file) : null;
        }
        if (commit is null)
        {
            commit = meta.Commit;
            cache.WriteRef(Repo, commit);
        }
        var blob = cache.BlobPath(Repo, meta.Etag);
        if (File.Exists(blob) && new FileInfo(blob).Length != meta.Size)
        {
            reporter.Warn(
                $"{Repo.Id}: {file}: the cached blob {blob} has {new FileInfo(blob).Length} bytes, the hub says {meta.Size}: downloading it again"
            );
            File.Delete(blob);
        }
        if (!File.Exists(blob))
            HubDownload.Blob(client, cache, Repo, file, meta, reporter);
        return cache.Link(Repo, commit, file, meta.Etag);
    }

    /// <summary>The file as the cache has it at the revision's cached commit.</summary>
    string? FromCache(string file, bool required)
    {
        var at = commit ?? cache.CommitOf(Repo);
        if (at is not null)
            commit = at;
        return (at is null ? null : cache.CachedFile(Repo, at, file)) ?? (required ? throw NotCached(file) : null);
    }

    string? CachedCopy(string file) => (commit ?? cache.CommitOf(Repo)) is { } at ? cache.CachedFile(Repo, at, file) : null;

    AloraException Missing(string file) => new($"{Repo}: {file} not found in the repository on {settings.Endpoint}");

    AloraException NotCached(string file)
    {
        var why = unreachable is not null
            ? $"and the hub cannot be reached ({unreachable})"
            : "and HF_HUB_OFFLINE is set: run once with the hub reachable to download it";
        return new AloraException($"{Repo}: {file} is not in the Hugging Face cache at {settings.CacheDir}, {why}");
    }

    public void Dispose() => client?.Dispose();
}
