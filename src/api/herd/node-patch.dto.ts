import { IsBoolean, IsInt, IsNumber, IsOptional, IsPositive, Max, Min } from 'class-validator';

export class NodePatchDto {
  @IsOptional() @IsInt({ message: 'slots must be an integer from 1 to 1024' }) @Min(1) @Max(1024)
  slots?: number;

  @IsOptional() @IsNumber() @IsPositive({ message: 'weight must be a positive number' })
  weight?: number;

  @IsOptional() @IsBoolean({ message: 'draining must be true or false' })
  draining?: boolean;
}
