using System.Globalization;
using System.Text;

namespace Alora.Experiments;

/// <summary>
/// What the sections of <see cref="ExperimentReport"/> share: the configuration, the result rows, the methods,
/// tasks and probes present, the run folders, and the markdown written so far. Figures go to OUTDIR/figures
/// and are linked relative to report.md.
/// </summary>
internal sealed class ReportDocument
{
    /// <summary>The method the ablation, the t-tests, the importance and the layer weights are about.</summary>
    public const string Ours = "alora";

    public static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    readonly StringBuilder _md = new();
    readonly string _outDir;

    public ReportDocument(string outDir, ExperimentConfig config, IReadOnlyList<ResultRow> all)
    {
        _outDir = outDir;
        Config = config;
        All = all;
        Main = all.Where(r => r.Sweep is null).ToList();
        Methods = ExperimentMethods.All.Where(m => all.Any(r => r.Method == m && r.Sweep is null)).ToList();
        Tasks = all.Where(r => r.Sweep != ExperimentPlanner.SequenceSweep).Select(r => r.Task).Distinct().ToList();
        // a probe column named after a task is a sequence stage's retention of that task (the sequence section's)
        Probes = all.SelectMany(r => r.Probes.Keys).Distinct().Where(p => !all.Any(r => r.Task == p)).ToList();
        Sequence = all.Where(r => r.Sweep == ExperimentPlanner.SequenceSweep).ToList();
    }

    public ExperimentConfig Config { get; }

    /// <summary>Every row of results.csv, sweep points included.</summary>
    public IReadOnlyList<ResultRow> All { get; }

    /// <summary>The rows of the method × seed × task grid, without the sweep points.</summary>
    public IReadOnlyList<ResultRow> Main { get; }

    /// <summary>The methods with main rows, in the catalog's order.</summary>
    public IReadOnlyList<string> Methods { get; }

    public IReadOnlyList<string> Tasks { get; }

    public IReadOnlyList<string> Probes { get; }

    /// <summary>The rows of sequence stages (a run continued into the next task of the sequence).</summary>
    public IReadOnlyList<ResultRow> Sequence { get; }

    public string FigDir => Path.Combine(_outDir, "figures");

    public string Text => _md.ToString();

    public void Line(string s = "") => _md.Append(s).Append('\n');

    /// <summary>The markdown image of a figure in FigDir.</summary>
    public static string Fig(string file, string alt) => $"![{alt}](figures/{file})";

    /// <summary>A name usable in a figure's file name.</summary>
    public static string Safe(string name) => name.Replace('/', '-');

    public IEnumerable<ResultRow> Of(string method, string task) => Main.Where(r => r.Method == method && r.Task == task);

    public string RunDir(string run) => Path.Combine(_outDir, "runs", run);
}
