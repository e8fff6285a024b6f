namespace Alora.Cli;

/// <summary>
/// Checks that an output can be written before the work that fills it starts, so an evaluation or a
/// Fisher pass of many minutes is not lost to a typo in --out. The write itself stays atomic (AtomicFile).
/// </summary>
public static class OutputCheck
{
    /// <summary>
    /// <paramref name="path"/> names a file whose folder exists or can be created, and a file can be made in it.
    /// Nothing is left behind: the nearest existing folder is probed with a temporary file, no folder is created.
    /// </summary>
    public static void File(string path, string option)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (path.Length == 0)
            throw new AloraException($"{option}: empty path");
        var full = Path.GetFullPath(path);
        if (Directory.Exists(full))
            throw new AloraException($"{option} {path}: is a folder; give a file name");
        Writable(Path.GetDirectoryName(full)!, path, option);
    }

    /// <summary>
    /// <paramref name="dir"/> is a folder to create (absent or empty), in a parent where Alora can write
    /// (merge builds the folder beside it and renames it into place).
    /// </summary>
    public static void NewFolder(string dir, string option)
    {
        ArgumentNullException.ThrowIfNull(dir);
        if (dir.Length == 0)
            throw new AloraException($"{option}: empty path");
        var full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(dir));
        if (System.IO.File.Exists(full))
            throw new AloraException($"{option} {dir}: is a file; give a folder to create");
        if (Directory.Exists(full) && Directory.EnumerateFileSystemEntries(full).Any())
            throw new AloraException($"{option} {dir}: folder exists and is not empty; choose a new {option}");
        Writable(Path.GetDirectoryName(full) ?? full, dir, option);
    }

    static void Writable(string folder, string given, string option)
    {
        // the nearest folder that exists: AtomicFile creates the missing ones below it
        var existing = folder;
        while (!Directory.Exists(existing))
        {
            if (System.IO.File.Exists(existing))
                throw new AloraException($"{option} {given}: {existing} is a file, not a folder");
            existing = Path.GetDirectoryName(existing) ?? throw new AloraException($"{option} {given}: no existing folder above it");
        }
        var probe = Path.Combine(existing, $".alora-write-check-{Environment.ProcessId}-{Guid.NewGuid():N}");
        try
        {
            using (new FileStream(probe, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.DeleteOnClose)) { }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new AloraException($"{option} {given}: cannot write in {existing} ({e.Message})", e);
        }
    }
}
