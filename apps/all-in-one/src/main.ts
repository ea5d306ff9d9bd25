import 'reflect-metadata';
import { runEmbedded } from '@app/api';
import { INGEST_CAPABILITY } from '@app/ingest';
import { QUERY_CAPABILITY } from '@app/query';

/** The embedded default: every capability in one process, with no external servers. */
runEmbedded([INGEST_CAPABILITY, QUERY_CAPABILITY]);
