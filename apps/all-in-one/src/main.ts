import 'reflect-metadata';
import { runEmbedded } from '@app/api';
import { ALL_CAPABILITIES } from './capabilities';

/** The embedded default: every capability in one process, with no external servers. */
runEmbedded(ALL_CAPABILITIES);
