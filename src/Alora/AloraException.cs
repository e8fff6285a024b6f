namespace Alora;

/// <summary>An error caused by the user's input (a file, a config, an option): the CLI prints its message alone and exits non-zero.</summary>
public class AloraException : Exception
{
    public AloraException(string message)
        : base(message) { }

    public AloraException(string message, Exception inner)
        : base(message, inner) { }

    public AloraException() { }
}
