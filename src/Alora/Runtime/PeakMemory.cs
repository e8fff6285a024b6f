using System.Diagnostics;

namespace Alora.Runtime;

/// <summary>
/// The process's peak resident memory (host RAM). On Linux the peak (VmHWM) can be reset by writing 5 to
/// /proc/self/clear_refs, so a long-lived process such as an experiment can measure each run on its own;
/// where that is not possible the peak is the process's since it started, and <see cref="Reset"/> says so.
/// GPU memory is not included.
/// </summary>
public static class PeakMemory
{
    /// <summary>Resets the peak to the current resident size; false where the OS does not allow it.</summary>
    public static bool Reset()
    {
        if (!OperatingSystem.IsLinux())
            return false;
        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5");
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>Resident bytes now (what metrics.jsonl logs per step as rss_mb, so a leak shows as a slope).</summary>
    public static long CurrentBytes() => Environment.WorkingSet;

    /// <summary>Peak resident bytes since the process started or the last successful <see cref="Reset"/>.</summary>
    public static long Bytes()
    {
        using var p = Process.GetCurrentProcess();
        p.Refresh();
        return p.PeakWorkingSet64;
    }
}
