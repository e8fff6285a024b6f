namespace Alora.IO;

/// <summary>File sizes that see through symbolic links, which the Hugging Face cache's snapshot files are.</summary>
public static class FileSize
{
    /// <summary>The length of the file a path names (FileInfo.Length of a link is the length of the link itself).</summary>
    public static long Of(string path)
    {
        var info = new FileInfo(path);
        return info.LinkTarget is null ? info.Length : ((FileInfo?)info.ResolveLinkTarget(returnFinalTarget: true))?.Length ?? 0;
    }
}
