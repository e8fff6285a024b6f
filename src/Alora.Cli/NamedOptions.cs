using System.CommandLine;

namespace Alora.Cli;

/// <summary>Options whose values are names (methods, stages, dtypes...): parsed by the library's <see cref="EnumNames{T}"/>, so the CLI accepts exactly what a YAML file does.</summary>
public static class NamedOptions
{
    /// <summary>An option of a named enum: "error: --name 'x' is not one of a, b, c" at parse time; the names are offered as completions.</summary>
    public static Option<T> Create<T>(string name, string description, T defaultValue)
        where T : struct, Enum
    {
        var o = new Option<T>(name)
        {
            Description = $"{description}: {string.Join(" | ", EnumNames<T>.Names)}",
            DefaultValueFactory = _ => defaultValue,
            CustomParser = r =>
            {
                var text = r.Tokens.Count > 0 ? r.Tokens[^1].Value : "";
                if (EnumNames<T>.TryParse(text, out var v))
                    return v;
                r.AddError($"{name} '{text}' is not one of {EnumNames<T>.OneOf}");
                return default;
            },
        };
        o.CompletionSources.Add(EnumNames<T>.Names.ToArray());
        return o;
    }
}
