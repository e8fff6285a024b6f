using System.Diagnostics;
using System.Globalization;
using Alora.Hub;

namespace Alora.Cli;

/// <summary>
/// Hub names on the command line (--model ORG/NAME[@REV], --adapter ORG/NAME, hf://datasets/… files) resolved
/// through the Hugging Face cache with the settings of the environment (HF_HOME, HF_HUB_CACHE, HF_ENDPOINT,
/// HF_TOKEN, HF_HUB_OFFLINE); local paths pass through unchanged.
/// </summary>
public static class HubCli
{
    public static string Model(CliIo io, string spec) => HubFiles.ModelFolder(spec, HubSettings.FromEnvironment(), new StderrReporter(io));

    public static string Adapter(CliIo io, string spec) => HubFiles.AdapterFolder(spec, HubSettings.FromEnvironment(), new StderrReporter(io));

    public static string Tokenizer(CliIo io, string spec) => HubFiles.TokenizerFolder(spec, HubSettings.FromEnvironment(), new StderrReporter(io));

    public static string Data(CliIo io, string path) => HubFiles.DataFile(path, HubSettings.FromEnvironment(), new StderrReporter(io));

    public static string? DataOrNull(CliIo io, string? path) => path is null ? null : Data(io, path);

    /// <summary>
    /// Downloads on stderr: a bar redrawn in place on a terminal (bytes, percentage, speed), otherwise one line when a
    /// download starts and one when it ends; warnings as "warning: …" lines.
    /// </summary>
    sealed class StderrReporter(CliIo io) : IHubReporter
    {
        readonly Stopwatch clock = new();
        string? current;
        long lastDrawn = -1;

        public void Progress(string file, long done, long total)
        {
            if (file != current)
            {
                current = file;
                clock.Restart();
                lastDrawn = -1;
                if (!io.Interactive)
                    io.Err.WriteLine($"downloading {file} ({Bytes(total)})");
            }
            if (io.Interactive && (clock.ElapsedMilliseconds - lastDrawn >= 100 || done == total))
            {
                lastDrawn = clock.ElapsedMilliseconds;
                double pct = total > 0 ? 100.0 * done / total : 100;
                var speed = done / Math.Max(clock.Elapsed.TotalSeconds, 1e-3);
                io.Err.Write(
                    string.Create(
                        CultureInfo.InvariantCulture,
                        $"\r{file}  {Bar(pct)} {pct, 5:0.0}%  {Bytes(done)}/{Bytes(total)}  {Bytes((long)speed)}/s   "
                    )
                );
            }
            if (done == total)
            {
                if (io.Interactive)
                    io.Err.WriteLine();
                else
                    io.Err.WriteLine(string.Create(CultureInfo.InvariantCulture, $"downloaded {file} in {clock.Elapsed.TotalSeconds:0.0} s"));
                current = null;
            }
        }

        public void Warn(string message) => io.Err.WriteLine($"warning: {message}");

        static string Bar(double pct)
        {
            int filled = (int)Math.Round(pct / 100 * 24);
            return "[" + new string('#', filled) + new string('-', 24 - filled) + "]";
        }

        static string Bytes(long b) =>
            b >= 1 << 30 ? string.Create(CultureInfo.InvariantCulture, $"{b / (double)(1 << 30):0.00} GB")
            : b >= 1 << 20 ? string.Create(CultureInfo.InvariantCulture, $"{b / (double)(1 << 20):0.0} MB")
            : b >= 1 << 10 ? string.Create(CultureInfo.InvariantCulture, $"{b / 1024.0:0.0} KB")
            : $"{b} B";
    }
}
