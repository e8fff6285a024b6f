using Alora.IO;

namespace Alora.Hub;

/// <summary>
/// The Hugging Face cache layout, as huggingface_hub writes it under the cache folder:
/// <code>
/// models--ORG--NAME/
///   blobs/ETAG                      a file's bytes, named by its etag (sha256 for LFS files, git sha1 otherwise)
///   blobs/ETAG.incomplete           a download in progress (resumed from its length)
///   refs/REVISION                   the commit hash a branch or tag last pointed to
///   snapshots/COMMIT/PATH           a relative symbolic link to ../../blobs/ETAG
///   .no_exist/COMMIT/PATH           an empty file: PATH is known to be absent at COMMIT
/// .locks/models--ORG--NAME/ETAG.lock
/// </code>
/// </summary>
public sealed class HubCache(string root)
{
    public string Root { get; } = root;

    public string RepoDir(HubRepo repo) => Path.Combine(Root, repo.FolderName);

    public string BlobPath(HubRepo repo, string etag) => Path.Combine(RepoDir(repo), "blobs", etag);

    public string SnapshotDir(HubRepo repo, string commit) => Path.Combine(RepoDir(repo), "snapshots", commit);

    public string PointerPath(HubRepo repo, string commit, string file) => Path.Combine(SnapshotDir(repo, commit), file);

    public string LockPath(HubRepo repo, string etag) => Path.Combine(Root, ".locks", repo.FolderName, etag + ".lock");

    string RefPath(HubRepo repo, string revision) => Path.Combine(RepoDir(repo), "refs", revision);

    string NoExistPath(HubRepo repo, string commit, string file) => Path.Combine(RepoDir(repo), ".no_exist", commit, file);

    /// <summary>The commit the repository's revision names in the cache: the revision itself when it is a hash, else its ref; null when unknown.</summary>
    public string? CommitOf(HubRepo repo)
    {
        if (HubRepo.IsCommitHash(repo.Revision))
            return repo.Revision;
        var path = RefPath(repo, repo.Revision);
        return File.Exists(path) ? File.ReadAllText(path).Trim() : null;
    }

    /// <summary>The snapshot's path of the file when its blob is in the cache (a dangling link counts as absent).</summary>
    public string? CachedFile(HubRepo repo, string commit, string file)
    {
        var pointer = PointerPath(repo, commit, file);
        return File.Exists(pointer) ? pointer : null;
    }

    /// <summary>True when an earlier request learnt that the file does not exist at the commit.</summary>
    public bool KnownMissing(HubRepo repo, string commit, string file) => File.Exists(NoExistPath(repo, commit, file));

    public void MarkMissing(HubRepo repo, string commit, string file)
    {
        var path = NoExistPath(repo, commit, file);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, []);
    }

    /// <summary>Records which commit a branch or tag points to (nothing for a commit hash, which names itself).</summary>
    public void WriteRef(HubRepo repo, string commit)
    {
        if (repo.Revision == commit)
            return;
        var path = RefPath(repo, repo.Revision);
        if (File.Exists(path) && File.ReadAllText(path).Trim() == commit)
            return;
        AtomicFile.WriteAllText(path, commit);
    }

    /// <summary>Points snapshots/COMMIT/FILE at its blob with a relative link, replacing any link there in one rename.</summary>
    public string Link(HubRepo repo, string commit, string file, string etag)
    {
        var pointer = PointerPath(repo, commit, file);
        var dir = Path.GetDirectoryName(pointer)!;
        Directory.CreateDirectory(dir);
        var target = Path.GetRelativePath(dir, BlobPath(repo, etag));
        var tmp = Path.Combine(dir, $".{Path.GetFileName(pointer)}.{Environment.ProcessId}.link");
        File.Delete(tmp);
        File.CreateSymbolicLink(tmp, target);
        File.Move(tmp, pointer, overwrite: true);
        return pointer;
    }
}
