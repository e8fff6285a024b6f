using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;

namespace Alora.Cli;

/// <summary>
/// Checks of option values made while parsing, so a bad value is one "error: --name ..." line before any work starts.
/// </summary>
public static class OptionChecks
{
    /// <summary>
    /// Adds a finite-number check to every floating-point option of the tree. Done once over the whole tree
    /// (not option by option) so that an option added later is covered too: NaN or an infinity ("1e400"
    /// parses to infinity) would otherwise reach a training loop or a JSON writer, which cannot hold it.
    /// </summary>
    public static void AddFiniteChecks(Command root)
    {
        ArgumentNullException.ThrowIfNull(root);
        foreach (var command in Commands(root))
        {
            foreach (var option in command.Options)
            {
                switch (option)
                {
                    case Option<double> o:
                        o.Validators.Add(r =>
                        {
                            if (TryValue(r, out double v))
                                Finite(r, v);
                        });
                        break;
                    case Option<double?> o:
                        o.Validators.Add(r =>
                        {
                            if (TryValue(r, out double? v) && v is { } x)
                                Finite(r, x);
                        });
                        break;
                    case Option<float> o:
                        o.Validators.Add(r =>
                        {
                            if (TryValue(r, out float v))
                                Finite(r, v);
                        });
                        break;
                    case Option<float?> o:
                        o.Validators.Add(r =>
                        {
                            if (TryValue(r, out float? v) && v is { } x)
                                Finite(r, x);
                        });
                        break;
                    case Option<double[]> o:
                        o.Validators.Add(r =>
                        {
                            if (TryValue(r, out double[]? v))
                                foreach (var x in v ?? [])
                                    Finite(r, x);
                        });
                        break;
                    case Option<float[]> o:
                        o.Validators.Add(r =>
                        {
                            if (TryValue(r, out float[]? v))
                                foreach (var x in v ?? [])
                                    Finite(r, x);
                        });
                        break;
                    default:
                        if (IsFloatingPoint(option.ValueType))
                            throw new InvalidOperationException(
                                $"{command.Name} {option.Name}: {option.ValueType} has no finite-number check; add its type to {nameof(AddFiniteChecks)}"
                            );
                        break;
                }
            }
        }
    }

    /// <summary>Whether values of this type are (or hold) floating-point numbers.</summary>
    public static bool IsFloatingPoint(Type t)
    {
        ArgumentNullException.ThrowIfNull(t);
        var inner = Nullable.GetUnderlyingType(t) ?? t;
        if (inner == typeof(double) || inner == typeof(float) || inner == typeof(Half) || inner == typeof(decimal))
            return true;
        if (inner.IsArray)
            return IsFloatingPoint(inner.GetElementType()!);
        return inner.IsGenericType && inner.GetGenericArguments().Any(IsFloatingPoint);
    }

    /// <summary>The command and all its subcommands, depth first.</summary>
    public static IEnumerable<Command> Commands(Command root)
    {
        ArgumentNullException.ThrowIfNull(root);
        yield return root;
        foreach (var sub in root.Subcommands)
        foreach (var c in Commands(sub))
            yield return c;
    }

    /// <summary>The option's value must be at least <paramref name="min"/> when given.</summary>
    public static Option<int> AtLeast(this Option<int> option, int min)
    {
        ArgumentNullException.ThrowIfNull(option);
        option.Validators.Add(r =>
        {
            if (TryValue(r, out int v))
                Min(r, v, min);
        });
        return option;
    }

    /// <summary>The option's value, when given, must be at least <paramref name="min"/>.</summary>
    public static Option<int?> AtLeast(this Option<int?> option, int min)
    {
        ArgumentNullException.ThrowIfNull(option);
        option.Validators.Add(r =>
        {
            if (TryValue(r, out int? v) && v is { } x)
                Min(r, x, min);
        });
        return option;
    }

    /// <summary>
    /// The option's value, or default when its text did not convert: that error is already reported
    /// (validators run after a failed conversion too, where GetValueOrDefault throws).
    /// </summary>
    static bool TryValue<T>(OptionResult r, out T value)
    {
        try
        {
            value = r.GetValueOrDefault<T>();
            return true;
        }
        catch (InvalidOperationException)
        {
            value = default!;
            return false;
        }
    }

    static void Min(OptionResult r, int value, int min)
    {
        if (value < min)
            r.AddError($"{r.Option.Name} must be at least {min} (got {value})");
    }

    static void Finite(OptionResult r, double v)
    {
        if (!double.IsFinite(v))
            r.AddError($"{r.Option.Name} must be a finite number (got {Given(r, v)})");
    }

    /// <summary>What the user typed ("1e400"), since its parsed value ("∞") hides why it was refused.</summary>
    static string Given(OptionResult r, double value)
    {
        var typed = string.Join(" ", r.Tokens.Select(t => t.Value));
        var parsed = value.ToString(CultureInfo.InvariantCulture);
        return typed.Length == 0 || typed == parsed ? parsed : $"'{typed}', read as {parsed}";
    }
}
