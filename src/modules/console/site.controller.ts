import { Controller, Get, Header } from '@nestjs/common';
import { ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Public } from '@app/authorization';
import { ProblemSchema } from '../../common/problem.schema';
import { SiteView } from './dto/site.dto';
import { SiteService } from './site.service';

@ApiTags('console')
@Controller('api/v1/site')
export class SiteController {
  constructor(private readonly site: SiteService) {}

  @Get()
  @Public()
  // Briefly cacheable: the same for every visitor of the domain; a branding or price change shows within a minute.
  @Header('cache-control', 'public, max-age=60')
  @ApiOperation({ summary: "The Host's tenant as the console shows it before sign-in: brand, languages, support, currency, sign-up, public prices" })
  @ApiOkResponse({ type: SiteView })
  @ApiNotFoundResponse({ type: ProblemSchema, description: 'unknown_tenant: the Host is no tenant domain' })
  get(): Promise<SiteView> {
    return this.site.site();
  }
}
