/** A bad setting: names the variable, never echoes a secret's value. Exits the process with status 2. */
export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`configuration error: ${variable} ${message}`);
  }
}
