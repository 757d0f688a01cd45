/**
 * Build step (not shipped): prints dist/help.json, every help text rendered by the real program, so
 * that `identica --help` is answered without loading commander.
 */
import { renderHelpTexts } from "./cli.js";
import { addCompletion } from "./completion.js";
import { processContext } from "./context.js";

process.stdout.write(`${JSON.stringify(renderHelpTexts(processContext(), addCompletion))}\n`);
