-- AlterTable
ALTER TABLE "Checkpoint" ADD COLUMN     "resumeState" BYTEA;
