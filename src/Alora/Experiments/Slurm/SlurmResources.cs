using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Alora.Experiments;

/// <summary>
/// The sbatch options of each job: the experiment's <c>slurm:</c> mapping (long option names without dashes, such as
/// partition, gres, time, mem, cpus-per-task) for every job, its <c>methods: {METHOD: {...}}</c> for the runs of that
/// method (its domain, base and scaled jobs; general stages and Fisher passes are shared and take the global ones),
/// then <c>--slurm-opt KEY=VALUE</c> for every job, each later one replacing an earlier value of the same key.
/// </summary>
public sealed partial class SlurmResources
{
    /// <summary>Options the launcher sets itself on every job.</summary>
    static readonly string[] Reserved =
    [
        "job-name",
        "output",
        "error",
        "dependency",
        "kill-on-invalid-dep",
        "open-mode",
        "parsable",
        "wrap",
        "array",
    ];

    readonly List<(string Key, string Value)> _global;
    readonly Dictionary<string, List<(string Key, string Value)>> _methods;
    readonly List<(string Key, string Value)> _cli;

    SlurmResources(List<(string, string)> global, Dictionary<string, List<(string, string)>> methods, List<(string, string)> cli) =>
        (_global, _methods, _cli) = (global, methods, cli);

    /// <summary>Reads the config's mapping and the command line's KEY=VALUE pairs; every problem names where it is.</summary>
    public static SlurmResources From(ExperimentConfig config, IReadOnlyList<string> cliOptions)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(cliOptions);
        var where = $"{config.Source ?? "experiment"}: slurm";
        var global = new List<(string, string)>();
        var methods = new Dictionary<string, List<(string, string)>>(StringComparer.Ordinal);
        foreach (var (key, node) in config.Slurm)
        {
            if (key != "methods")
            {
                global.Add((CheckKey(key, where), Scalar(node, $"{where}.{key}")));
                continue;
            }
            if (node is not JsonObject perMethod)
                throw new AloraException($"{where}.methods: expected a mapping of method names to sbatch options");
            foreach (var (method, options) in perMethod)
            {
                if (!config.Methods.Contains(method))
                    throw new AloraException($"{where}.methods.{method}: not a method of this experiment ({string.Join(", ", config.Methods)})");
                if (options is not JsonObject o)
                    throw new AloraException($"{where}.methods.{method}: expected a mapping of sbatch options");
                methods[method] = o.Select(kv =>
                        (CheckKey(kv.Key, $"{where}.methods.{method}"), Scalar(kv.Value, $"{where}.methods.{method}.{kv.Key}"))
                    )
                    .ToList();
            }
        }
        var cli = cliOptions.Select(ParseCli).ToList();
        return new SlurmResources(global, methods, cli);
    }

    /// <summary>The options of one job, each key where it first appears, with the last value given for it.</summary>
    public IReadOnlyList<(string Key, string Value)> For(ExperimentJob job)
    {
        ArgumentNullException.ThrowIfNull(job);
        var merged = new List<(string Key, string Value)>();
        void Apply(IEnumerable<(string Key, string Value)> options)
        {
            foreach (var (k, v) in options)
            {
                int at = merged.FindIndex(m => m.Key == k);
                if (at >= 0)
                    merged[at] = (k, v); // in its first place: the global order stays readable
                else
                    merged.Add((k, v));
            }
        }
        Apply(_global);
        if (job.Method is { } m && _methods.TryGetValue(m, out var own))
            Apply(own);
        Apply(_cli);
        return merged;
    }

    static (string, string) ParseCli(string arg)
    {
        int eq = arg.IndexOf('=', StringComparison.Ordinal);
        if (eq <= 0 || eq == arg.Length - 1)
            throw new AloraException(
                $"--slurm-opt '{arg}': expected KEY=VALUE, an sbatch long option without its dashes (partition=gpu, gres=gpu:1)"
            );
        return (CheckKey(arg[..eq].Trim(), $"--slurm-opt '{arg}'"), arg[(eq + 1)..]);
    }

    static string CheckKey(string key, string where)
    {
        var k = key.TrimStart('-');
        if (!OptionName().IsMatch(k))
            throw new AloraException($"{where}: '{key}' is not an sbatch long option name (letters, digits and '-', such as cpus-per-task)");
        if (Reserved.Contains(k))
            throw new AloraException($"{where}: '{k}' is set by the launcher itself ({string.Join(", ", Reserved)})");
        return k;
    }

    static string Scalar(JsonNode? node, string where) =>
        node is JsonValue v && v.GetValueKind() is JsonValueKind.String or JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False
            ? (v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : v.ToJsonString().ToLower(CultureInfo.InvariantCulture))
            : throw new AloraException($"{where}: expected a value (a string or a number)");

    [GeneratedRegex("^[a-z][a-z0-9-]*$")]
    private static partial Regex OptionName();
}
